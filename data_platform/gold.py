"""gold.training_corpus: kept silver files with a split and token counts.

Splits are repository-level by default: every file of a repository lands in the split the
repository was assigned the first time it had a kept document, stored in gold.repo_splits and
never changed, so no code leaks across splits as the corpus grows. New repositories of a run
(in the order of a salted hash of repo_id) first fill splits that have none, then go to the
split furthest below its ratio; ties between splits are broken by the repository's hash.
With ``gold.split_by=file`` each file is placed by a salted hash of its id instead.
Token counts use the configured tokenizer, loaded offline on each executor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from data_platform.contracts import contract
from data_platform.dedup.shingles import count_code_tokens
from data_platform.settings.refine import GoldSettings

_HASH_SPACE = float(1 << 32)
REPO_SPLITS_TABLE = "gold.repo_splits"


def repo_fraction(repo_id: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by the repository id and the salt."""
    digest = hashlib.sha256(f"{salt}:{repo_id}".encode()).hexdigest()
    return int(digest[:8], 16) / _HASH_SPACE


def _fraction_column(settings: GoldSettings, key_col: str):
    """The Spark column computing :func:`repo_fraction` of ``key_col``."""
    from pyspark.sql import functions as F

    key = F.concat(F.lit(f"{settings.split_salt}:"), F.col(key_col))
    return F.conv(F.substring(F.sha2(key, 256), 1, 8), 16, 10).cast("double") / F.lit(_HASH_SPACE)


def _boundaries(ratios: dict[str, float]) -> list[tuple[str, float]]:
    bounds, total = [], 0.0
    for name, ratio in ratios.items():
        total += ratio
        bounds.append((name, total))
    return bounds


def split_column(settings: GoldSettings, key_col: str = "doc_id"):
    """A split from the salted hash of ``key_col`` (gold.split_by=file)."""
    from pyspark.sql import functions as F

    fraction = _fraction_column(settings, key_col)
    bounds = _boundaries(settings.split_ratios)
    expression = F.lit(bounds[-1][0])
    for name, upper in reversed(bounds[:-1]):
        expression = F.when(fraction < F.lit(upper), F.lit(name)).otherwise(expression)
    return expression


# --------------------------------------------------------------------------- repository splits


def next_split(counts: dict[str, int], ratios: dict[str, float], fraction: float) -> str:
    """The split a new repository goes to, given how many repositories each split already has.

    Splits with a non-zero ratio and no repository come first (largest ratio first), so that
    every split has data as soon as there are as many repositories as splits; then the split
    furthest below its ratio (``ratio * (total + 1) - count``). Ties between splits are broken
    by the repository's hash ``fraction`` in [0, 1).
    """
    wanted = [name for name, ratio in ratios.items() if ratio > 0]
    empty = [name for name in wanted if not counts.get(name)]
    if empty:
        best = max(ratios[name] for name in empty)
        tied = [name for name in empty if ratios[name] == best]
    else:
        total = sum(counts.get(name, 0) for name in wanted) + 1
        deficit = {name: ratios[name] * total - counts.get(name, 0) for name in wanted}
        best = max(deficit.values())
        tied = [name for name in wanted if abs(deficit[name] - best) < 1e-9]
    return tied[min(int(fraction * len(tied)), len(tied) - 1)]


def assign_splits(fractions: list[float], counts: dict[str, int], ratios: dict[str, float]) -> list[str]:
    """Splits of new repositories taken in order (their hash order); ``counts`` is updated."""
    chosen = []
    for fraction in fractions:
        split = next_split(counts, ratios, fraction)
        counts[split] = counts.get(split, 0) + 1
        chosen.append(split)
    return chosen


def assignment_batches(counts: dict[str, int], ratios: dict[str, float], first_order: int):
    """mapInArrow function over ONE partition sorted by hash: (repo_id, fraction) → (repo_id, split, order).

    The assignment is sequential by nature (each choice depends on the previous ones), so it
    runs in a single task over the run's new repositories only; state carries across batches.
    """

    def run(batches: Iterator[pa.RecordBatch]):
        running, order = dict(counts), first_order
        for batch in batches:
            splits = assign_splits(batch.column("fraction").to_pylist(), running, ratios)
            orders = list(range(order, order + len(splits)))
            order += len(splits)
            yield pa.RecordBatch.from_arrays(
                [batch.column("repo_id"), pa.array(splits, pa.string()), pa.array(orders, pa.int64())],
                names=["repo_id", "split", "assignment_order"],
            )

    return run


@dataclass
class SplitAssignment:
    """What the split step did, for the run summary."""

    split_by: str
    repositories: int = 0  # repositories with kept documents in this gold version
    new_repositories: dict[str, int] = field(default_factory=dict)  # split → newly assigned
    splits: int = 0  # splits with a non-zero ratio

    def note(self) -> str | None:
        """The warning the run summary shows when splits must stay empty."""
        if self.split_by != "repository" or self.repositories >= self.splits:
            return None
        return (
            f"only {self.repositories} repositories with kept documents for {self.splits} splits: splits stay "
            "repository-level and some are empty (no held-out data for them); add repositories, or set "
            "gold.split_by=file for a file-level split (files of one repository then share splits)"
        )


def repository_splits(spark, config, docs, settings: GoldSettings, run_id: str):
    """(repo_id, split) for every repository of ``docs``; assigns and stores new ones.

    Only aggregates reach the driver: the count of repositories per split (a few rows) and
    the highest assignment order; the new repositories are assigned inside one Spark task.
    """
    from pyspark.sql import functions as F

    from data_platform import lake

    kept = docs.select("repo_id").distinct()
    stored = lake.read_table(spark, config, REPO_SPLITS_TABLE)
    live = stored.join(kept, "repo_id", "left_semi")
    counts = {row.split: int(row.n) for row in live.groupBy("split").agg(F.count("*").alias("n")).collect()}
    first_order = int(stored.agg(F.max("assignment_order")).first()[0] or 0) + 1
    new = (
        kept.join(stored.select("repo_id"), "repo_id", "left_anti")
        .withColumn("fraction", _fraction_column(settings, "repo_id"))
        .repartition(1)
        .sortWithinPartitions("fraction", "repo_id")
    )
    assigned = new.mapInArrow(
        assignment_batches(counts, dict(settings.split_ratios), first_order),
        contract(REPO_SPLITS_TABLE).spark_ddl(["repo_id", "split", "assignment_order"]),
    ).persist()
    try:
        added = {row.split: int(row.n) for row in assigned.groupBy("split").agg(F.count("*").alias("n")).collect()}
        if added:
            rows = assigned.withColumn("run_id", F.lit(run_id)).withColumn("assigned_at", F.current_timestamp())
            lake.append(spark, config, REPO_SPLITS_TABLE, rows)
    finally:
        assigned.unpersist()
    summary = SplitAssignment(
        "repository",
        repositories=sum(counts.values()) + sum(added.values()),
        new_repositories=added,
        splits=sum(1 for ratio in settings.split_ratios.values() if ratio > 0),
    )
    splits = lake.read_table(spark, config, REPO_SPLITS_TABLE).select("repo_id", "split")
    return splits, summary


# --------------------------------------------------------------------------- token counts


@lru_cache(maxsize=4)
def _load_counter(spec: str):
    if spec == "code-tokens":
        return lambda texts: [count_code_tokens(t) for t in texts]
    path = Path(spec).expanduser()
    if path.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        return lambda texts: [
            len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ]
    if path.is_dir():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        return lambda texts: [
            len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        ]
    raise ValueError(
        f"gold.tokenizer: {spec!r} is not 'code-tokens', a tokenizer.json file or a local model directory"
    )


def count_tokens(texts: list[str], spec: str = "code-tokens") -> list[int]:
    return _load_counter(spec)(texts)


def check_tokenizer(spec: str) -> None:
    """Fail early (on the driver, with a one-line message) when the tokenizer cannot load."""
    _load_counter(spec)


def token_count_batches(spec: str):
    """mapInArrow function: (doc_id, text) → (doc_id, token_count)."""

    def run(batches):
        for batch in batches:
            counts = count_tokens([t or "" for t in batch.column("text").to_pylist()], spec)
            yield pa.RecordBatch.from_arrays(
                [batch.column("doc_id"), pa.array(counts, pa.int64())], names=["doc_id", "token_count"]
            )

    return run


def document_kind_column():
    """gold's ``source_kind``: silver's, or for rows curated before silver had it, notebook for an
    ``.ipynb`` path and code otherwise."""
    from pyspark.sql import functions as F

    by_path = F.when(F.lower(F.col("path")).endswith(".ipynb"), F.lit("notebook")).otherwise(F.lit("code"))
    return F.coalesce(F.col("source_kind"), by_path).alias("source_kind")


def gold_rows(spark, config, kept, settings: GoldSettings, run_id: str):
    """gold.training_corpus rows from kept silver.files rows, and how their splits were assigned."""
    from pyspark.sql import functions as F

    docs = kept.where(F.col("language").isNotNull() & F.col("text").isNotNull()).select(
        F.col("file_id").alias("doc_id"),
        "repo_id",
        "repo_url",
        "commit_sha",
        "path",
        "language",
        "text",
        "license_spdx",
        "license_class",
        F.octet_length("text").cast("bigint").alias("size_bytes"),
        "exact_dup_key",
        F.lit(run_id).alias("run_id"),
        document_kind_column(),
    )
    if settings.split_by == "file":
        docs = docs.withColumn("split", split_column(settings, "doc_id"))
        repositories = docs.select("repo_id").distinct().count()
        assignment = SplitAssignment("file", repositories, {}, sum(1 for r in settings.split_ratios.values() if r > 0))
    else:
        splits, assignment = repository_splits(spark, config, docs, settings, run_id)
        docs = docs.join(splits, "repo_id")
    tokens = docs.select("doc_id", "text").mapInArrow(
        token_count_batches(settings.tokenizer), "doc_id string, token_count bigint"
    )
    return docs.join(tokens, "doc_id"), assignment
