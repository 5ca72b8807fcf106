"""Corpora smaller than one global batch: pad and repeat instead of refusing to train.

The streaming pipeline (``training.data``) cuts the token stream into full ``seq_len``
blocks and every worker takes whole micro-batches; a split that packs into fewer blocks than
one optimizer step needs (micro-batch × workers × accumulation) would give no step at all.
For such a split the driver packs it itself (it is small by definition), pads the last block
(labels -100 on the padding, :meth:`training.packing.Packer.flush`) and repeats the blocks in
order until they fill one global batch: every step then sees the whole corpus, and the run
summary says so.

Whether a split is small is decided cheaply first: gold stores each document's UTF-8 size,
and a token covers at least one byte in the byte-level tokenizers used here (16 on average is
far beyond what code gets), so a split over ``MAX_BYTES_PER_TOKEN`` × global-batch tokens is
never tokenised on the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data import DataSpec, _tokenizer, tokenize_documents
from training.fim import FimTokenIds
from training.packing import Block, pack_documents, real_tokens

MAX_BYTES_PER_TOKEN = 16


@dataclass(frozen=True)
class SmallSplit:
    split: str
    blocks: list[Block]  # the packed split, repeated to ``target_blocks``
    real_blocks: int  # blocks the split packs into (the last one padded)
    target_blocks: int
    tokens: int  # real (non-padding) tokens

    def warning(self) -> str:
        return (f"the {self.split} split packs into {self.real_blocks} block(s) of real tokens ({self.tokens} tokens), "
                f"fewer than one global batch of {self.target_blocks} blocks (micro_batch_size × workers × "
                f"grad_accum): the last block is padded (labels -100) and the blocks are repeated to fill each "
                f"step, so every step sees the whole {self.split} split; add data or lower train.seq_len, "
                "train.micro_batch_size or train.workers for a real run")

    def dataset(self, skip_blocks: int = 0):
        """The blocks as a Ray Dataset (same columns as the streaming pipeline), minus the first ``skip_blocks``."""
        import ray.data

        rows = [{"input_ids": block.input_ids, "labels": block.labels} for block in self.blocks[skip_blocks:]]
        if not rows:  # a resumed epoch that was already consumed: an empty dataset of the same shape
            seq_len = len(self.blocks[0].input_ids)
            return ray.data.from_items([{"input_ids": np.zeros(seq_len, np.int64),
                                         "labels": np.zeros(seq_len, np.int64)}]).limit(0)
        return ray.data.from_items(rows)


def split_bytes(spec: DataSpec, split: str) -> tuple[int, int]:
    """(documents, UTF-8 bytes) of one split of the table version, from one int column (delta-rs)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    from data_platform.storage import delta_table

    dataset = delta_table(spec.table_path, version=spec.table_version).to_pyarrow_dataset()
    sizes = dataset.to_table(columns=["size_bytes"], filter=pads.field("split") == split).column("size_bytes")
    if spec.max_documents:
        sizes = sizes.slice(0, spec.max_documents)
    return len(sizes), int(pc.sum(sizes).as_py() or 0)


def repeat_to(blocks: list[Block], target: int) -> list[Block]:
    """Cycle the blocks in order until there are ``target`` of them."""
    return [blocks[i % len(blocks)] for i in range(max(target, len(blocks)))]


def small_split(spec: DataSpec, split: str, eos_id: int, target_blocks: int) -> SmallSplit | None:
    """The padded, repeated blocks of ``split`` if it packs into fewer than ``target_blocks``; else None."""
    import pyarrow.dataset as pads

    from data_platform.storage import delta_table

    documents, size = split_bytes(spec, split)
    if documents == 0 or size > MAX_BYTES_PER_TOKEN * target_blocks * spec.seq_len:
        return None
    dataset = delta_table(spec.table_path, version=spec.table_version).to_pyarrow_dataset()
    mixed = bool(spec.mixture_rates) and split == "train" and "source_kind" in dataset.schema.names
    columns = ["doc_id", "text", *(["source_kind"] if mixed else [])]
    table = dataset.to_table(columns=columns, filter=pads.field("split") == split).sort_by("doc_id")
    if mixed:  # the same per-document copies as the streaming pipeline (training.mixture)
        from training.mixture import mix_batch

        table = mix_batch(table, spec.mixture_rates, spec.seed)
    if spec.max_documents:
        table = table.slice(0, spec.max_documents)
    keys = table.column("doc_id").to_pylist()
    texts = [text or "" for text in table.column("text").to_pylist()]
    tokenizer = _tokenizer(spec.tokenizer_dir)
    fim = FimTokenIds.from_tokenizer(tokenizer) if spec.fim_rate > 0 else None
    blocks = pack_documents(tokenize_documents(texts, keys, tokenizer, fim, spec), spec.seq_len, eos_id)
    if len(blocks) >= target_blocks:
        return None  # enough for a full step: the streaming pipeline handles it
    tokens = real_tokens(blocks)
    return SmallSplit(split, repeat_to(blocks, target_blocks), len(blocks), target_blocks, tokens)
