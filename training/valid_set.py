"""The blocks a training run evaluates on: the valid split's first blocks, packed by the driver.

An eval scores ``eval_batches`` micro-batches per worker: 8 blocks of 128 tokens in the demo.
Streaming them through Ray Data like the train split started a second pipeline at the first
eval (a read task, a tokeniser and a packer, each a fresh process importing pyarrow and
transformers) and executed it again at every later eval: 19 s of a 2-core machine for the
first eval and ~8 s for each later one, against under a second to pack them here. Every eval
of a run scores the same blocks, so eval losses are comparable from step to step.

Order is fixed without a sort of the split: the table version's data files by path, rows in
file order, documents cut into blocks exactly as the train stream cuts them (tokenised, FIM
applied with each document's own seed, packed with EOS between documents). A split smaller
than one block per worker is padded and repeated (``training.small_corpus``'s rule), and the
run says so.

Workers get their blocks through the object store (``shard_refs``): rank ``r`` takes every
``world``-th block from ``r``, so no worker receives the others' blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data import DataSpec, _tokenizer, tokenize_documents
from training.fim import FimTokenIds
from training.packing import Block, Packer, real_tokens
from training.small_corpus import repeat_to


@dataclass(frozen=True)
class ValidBlocks:
    split: str
    blocks: list[Block]
    real_blocks: int  # blocks of real tokens before any repetition (the last one padded if too few)
    tokens: int  # real (non-padding) tokens in those blocks
    padded: bool  # the split packs into fewer blocks than one per worker's micro-batch

    def warning(self) -> str | None:
        if not self.padded:
            return None
        return (f"the {self.split} split packs into {self.real_blocks} block(s) of real tokens ({self.tokens} tokens), "
                f"fewer than one micro-batch per worker ({len(self.blocks)} blocks): the last block is padded "
                f"(labels -100) and the blocks are repeated, so every eval scores the whole {self.split} split; "
                f"add {self.split} data for a meaningful eval loss")

    def shard(self, rank: int, world: int) -> dict[str, np.ndarray]:
        """Rank ``rank``'s blocks as ``input_ids`` and ``labels`` arrays of shape (blocks, seq_len)."""
        mine = self.blocks[rank::world]
        return {"input_ids": np.stack([block.input_ids for block in mine]),
                "labels": np.stack([block.labels for block in mine])}

    def shard_refs(self, world: int) -> list:
        """One object-store reference per rank to that rank's shard (call after ``ray.init``)."""
        import ray

        return [ray.put(self.shard(rank, world)) for rank in range(world)]


def _documents(spec: DataSpec, split: str, batch_rows: int):
    """(doc_ids, texts) batches of one split, data files in path order, rows in file order."""
    import pyarrow.dataset as pads

    from data_platform.storage import delta_table

    dataset = delta_table(spec.table_path, version=spec.table_version).to_pyarrow_dataset()
    wanted = pads.field("split") == split
    for fragment in sorted(dataset.get_fragments(), key=lambda fragment: fragment.path):
        for batch in fragment.to_batches(schema=dataset.schema, columns=["doc_id", "text"], filter=wanted,
                                         batch_size=batch_rows, use_threads=False):
            if batch.num_rows:
                yield batch.column("doc_id").to_pylist(), [text or "" for text in batch.column("text").to_pylist()]


def valid_blocks(spec: DataSpec, split: str, eos_id: int, count: int, minimum: int) -> ValidBlocks | None:
    """The first ``count`` full blocks of ``split`` (fewer if it is short); None if it has no document.

    A split that packs into fewer than ``minimum`` blocks (one micro-batch per worker) gives its
    blocks with the last one padded, repeated up to ``minimum``.
    """
    tokenizer = _tokenizer(spec.tokenizer_dir)
    fim = FimTokenIds.from_tokenizer(tokenizer) if spec.fim_rate > 0 else None
    packer, blocks, documents = Packer(spec.seq_len, eos_id), [], 0
    for keys, texts in _documents(spec, split, spec.tokenize_batch_size):
        if spec.max_documents:
            keys, texts = keys[: spec.max_documents - documents], texts[: spec.max_documents - documents]
        documents += len(keys)
        for tokens in tokenize_documents(texts, keys, tokenizer, fim, spec):
            blocks.extend(packer.add(tokens))
        if len(blocks) >= count or (spec.max_documents and documents >= spec.max_documents):
            break
    if not documents:
        return None
    if len(blocks) >= minimum:
        blocks = blocks[:count]
        return ValidBlocks(split, blocks, len(blocks), real_tokens(blocks), padded=False)
    blocks.extend(packer.flush())
    return ValidBlocks(split, repeat_to(blocks, minimum), len(blocks), real_tokens(blocks), padded=True)
