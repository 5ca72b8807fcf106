"""The training data pipeline: a published gold version, streamed through Ray Data.

``read_delta(version)`` → keep one split → tokenise + FIM (parallel CPU tasks) → pack into
``seq_len`` blocks (one ordered actor) → ``streaming_split`` to the Ray Train workers.

Why one packing actor: packing carries the unfinished tail of one batch into the next, so
it needs to see the stream in order. Tokenisation, the expensive part, stays parallel; the
packer only concatenates arrays. With ``preserve_order`` the packed stream is the same for
the same table version, seed and settings, which makes the data position meaningful: a run
that consumed N blocks resumes by asking the packer to skip the first N of the epoch.
Skipped blocks are still read and tokenised (cheap next to training on them), but never
reach a worker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from training.fim import FimTokenIds, apply_fim, document_rng
from training.packing import Packer


@dataclass(frozen=True)
class DataSpec:
    """Everything that decides the packed stream; equal specs give equal streams."""

    table_path: str
    table_version: int
    tokenizer_dir: str
    seq_len: int
    fim_rate: float = 0.5
    fim_spm_rate: float = 0.5
    seed: int = 0
    tokenize_batch_size: int = 64
    max_documents: int | None = None  # cap per split, for smoke runs
    mixture_rates: dict[str, float] | None = None  # train.mixture: copies per document of each kind

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DataPosition:
    """Where a run stands in its data: blocks consumed in the current epoch, by all ranks."""

    epoch: int = 0
    blocks_in_epoch: int = 0
    tokens_seen: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataPosition:
        return cls(**{key: int(data[key]) for key in ("epoch", "blocks_in_epoch", "tokens_seen")})


@lru_cache(maxsize=4)
def _tokenizer(tokenizer_dir: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


def tokenize_documents(
    texts: list[str], keys: list[str], tokenizer, fim: FimTokenIds | None, spec: DataSpec
) -> list[list[int]]:
    """Tokenise documents and apply FIM to each with its own seeded generator."""
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    if fim is None or spec.fim_rate <= 0:
        return [list(ids) for ids in encoded]
    return [
        apply_fim(ids, fim, document_rng(spec.seed, key), spec.fim_rate, spec.fim_spm_rate)
        for ids, key in zip(encoded, keys, strict=True)
    ]


class TokenizeDocuments:
    """Ray Data actor: rows of (doc_id, text) → rows of token lists, FIM applied per document.

    An actor rather than tasks: Ray keeps about one idle worker process per CPU and kills the
    rest, so on a small machine whose CPUs the training workers hold, every tokenising task
    started a fresh process (~4 CPU-seconds of imports; 29 of them in the demo's first three
    minutes of training, on the cores the training needed). The driver passes the tokenizer
    itself: an actor may run on a node that has no copy of the run's folder.
    """

    def __init__(self, spec_dict: dict[str, Any], tokenizer=None):
        self.spec = DataSpec(**spec_dict)
        self.tokenizer = tokenizer or _tokenizer(self.spec.tokenizer_dir)
        self.fim = FimTokenIds.from_tokenizer(self.tokenizer) if self.spec.fim_rate > 0 else None

    def __call__(self, batch: pa.Table) -> pa.Table:
        keys = batch.column("doc_id").to_pylist()
        tokens = tokenize_documents(batch.column("text").to_pylist(), keys, self.tokenizer, self.fim, self.spec)
        return pa.table({"doc_id": keys, "tokens": pa.array(tokens, type=pa.list_(pa.int32()))})


class PackBlocks:
    """Ray Data actor: packs the ordered token stream, dropping the first ``skip_blocks`` blocks."""

    def __init__(self, seq_len: int, eos_id: int, skip_blocks: int = 0):
        self.packer = Packer(seq_len, eos_id)
        self.to_skip = skip_blocks

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        blocks = [block for tokens in batch.column("tokens").to_pylist() for block in self.packer.add(tokens)]
        if self.to_skip:
            dropped = min(self.to_skip, len(blocks))
            blocks, self.to_skip = blocks[dropped:], self.to_skip - dropped
        seq_len = self.packer.seq_len
        if not blocks:
            empty = np.zeros((0, seq_len), dtype=np.int64)
            return {"input_ids": empty, "labels": empty.copy()}
        return {
            "input_ids": np.stack([block.input_ids for block in blocks]),
            "labels": np.stack([block.labels for block in blocks]),
        }


def document_dataset(spec: DataSpec, split: str, cpus_per_task: float = 0.25):
    """Rows ``(doc_id, text)`` of one split of the table version, streamed, never collected."""
    import ray.data
    from ray.data.expressions import col

    from data_platform.storage import delta_options

    mixed = bool(spec.mixture_rates) and split == "train"  # held-out splits stay as they are
    ds = ray.data.read_delta(
        spec.table_path,
        version=spec.table_version,
        # The lake's credentials (None for a local table); read tasks reuse the dataset's filesystem.
        storage_options=delta_options(spec.table_path),
        columns=["doc_id", "text", "split", *(["source_kind"] if mixed else [])],
        num_cpus=cpus_per_task,
    )
    ds = ds.filter(expr=col("split") == split)
    if mixed:
        from training.mixture import mix_batch

        ds = ds.map_batches(mix_batch, fn_kwargs={"rates": spec.mixture_rates, "seed": spec.seed},
                            batch_format="pyarrow", num_cpus=cpus_per_task)
    ds = ds.select_columns(["doc_id", "text"])
    if spec.max_documents:
        ds = ds.limit(spec.max_documents)
    return ds


def packed_dataset(
    spec: DataSpec, split: str, eos_id: int, skip_blocks: int = 0, cpus_per_task: float = 0.25,
    tokenize_actors: int = 2, max_blocks: int | None = None,
):
    """The packed blocks of one split as a Ray Dataset (``input_ids``, ``labels``: int64 [seq_len]).

    Reads and tokenisers ask for a fraction of a CPU: on a small machine the training workers
    hold most CPUs, and a read task that needs a whole one would wait forever (a stalled
    stream). Tokenising starts with one actor and grows to ``tokenize_actors`` while the
    stream lags. ``max_blocks`` ends the stream after that many blocks (after the skipped
    ones): a run shorter than an epoch then stops reading and tokenising once it has what it
    will train on, instead of tokenising the rest of the split on the cores it trains with.
    """
    from ray.data import ActorPoolStrategy

    tokens = document_dataset(spec, split, cpus_per_task).map_batches(
        TokenizeDocuments,
        fn_constructor_kwargs={"spec_dict": spec.to_dict(), "tokenizer": _tokenizer(spec.tokenizer_dir)},
        batch_size=spec.tokenize_batch_size,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(min_size=1, max_size=tokenize_actors),
        num_cpus=cpus_per_task,
    )
    blocks = tokens.map_batches(
        PackBlocks,
        fn_constructor_kwargs={"seq_len": spec.seq_len, "eos_id": eos_id, "skip_blocks": skip_blocks},
        batch_size=None,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=1),
        num_cpus=0.05,
    )
    return blocks.limit(max_blocks) if max_blocks else blocks


# Ray Data's default block limit (128 MiB) made the tokeniser emit a whole split as one block,
# so the first training batch waited until every document was tokenised and packed (~60 s in
# the demo); blocks of 1 MiB (~250k tokens) stream out as they are made.
STREAM_BLOCK_BYTES = 1 << 20


def configure_data_context() -> None:
    """Keep the stream in read order (deterministic packing and resume), in small blocks."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.execution_options.preserve_order = True
    context.target_max_block_size = STREAM_BLOCK_BYTES
    # Per-operator progress bars flood the training console; progress is the step line.
    context.enable_progress_bars = False


def sample_texts(table_path: str, version: int, split: str = "train", limit: int = 2000) -> list[str]:
    """A bounded sample of one split's texts (for training the tiny tokenizer), read with delta-rs."""
    import pyarrow.dataset as pads

    from data_platform.storage import delta_table

    dataset = delta_table(table_path, version=version).to_pyarrow_dataset()
    table = dataset.head(limit, columns=["text"], filter=pads.field("split") == split)
    return table.column("text").to_pylist()


def table_exists(path: str | Path) -> bool:
    return (Path(path) / "_delta_log").is_dir()
