"""The refine stage: silver.files → exact/near dedup, decontamination, filters → gold.training_corpus.

Runs after curation in the ingest job (``refine(spark, config, run_id)``). Every decision
is written back to silver.files as columns (exact_dup_key, dup_cluster_*, is_dup_keeper,
contamination_match, drop_reason) with one MERGE that touches only rows whose decision
changed, then the kept rows become a new version of gold.training_corpus. Text is already
redacted by curation (``data_platform.pii``); the summary reports the PII counts it found.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from data_platform import lake
from data_platform.dedup.exact import exact_dup_key_column
from data_platform.filters import DROP_REASONS
from data_platform.freshness import built_from_metadata
from data_platform.ops.crashpoints import crash_point
from data_platform.settings.refine import refine_sections

DECISION_COLUMNS = (
    "exact_dup_key",
    "dup_cluster_id",
    "dup_cluster_size",
    "is_dup_keeper",
    "contamination_match",
    "drop_reason",
)


@dataclass
class RefineSummary:
    run_id: str
    files: int = 0
    files_with_text: int = 0
    distinct_contents: int = 0
    kept: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)
    duplicate_clusters: int = 0
    signatures_computed: int = 0
    candidate_pairs: int = 0
    verified_pairs: int = 0
    contents_banded: int = 0
    lsh_bands: int = 0
    lsh_rows: int = 0
    split_clusters: int = 0
    pii_counts: dict[str, int] = field(default_factory=dict)
    gold_rows: int = 0
    gold_tokens: int = 0
    gold_splits: dict[str, int] = field(default_factory=dict)
    split_by: str = "repository"
    repositories: int = 0  # repositories with kept documents in the new gold version
    new_repo_splits: dict[str, int] = field(default_factory=dict)
    split_note: str | None = None
    silver_rows_changed: int = 0
    table_versions: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def stage_counts(self) -> dict[str, int]:
        """Flat counts for ops.ingest_runs.stage_counts (``refine.*`` keys)."""
        counts = {
            "refine.files": self.files,
            "refine.kept": self.kept,
            "refine.signatures_computed": self.signatures_computed,
            "refine.candidate_pairs": self.candidate_pairs,
            "refine.verified_pairs": self.verified_pairs,
            "refine.contents_banded": self.contents_banded,
            "refine.split_clusters": self.split_clusters,
            "refine.duplicate_clusters": self.duplicate_clusters,
            "gold.rows": self.gold_rows,
            "gold.tokens": self.gold_tokens,
        }
        counts.update({f"refine.dropped.{reason}": n for reason, n in self.drop_reasons.items()})
        counts.update({f"refine.pii.{kind}": n for kind, n in self.pii_counts.items()})
        counts.update({f"gold.split.{name}": n for name, n in self.gold_splits.items()})
        counts["gold.repositories"] = self.repositories
        counts.update({f"gold.new_repositories.{name}": n for name, n in self.new_repo_splits.items()})
        return counts

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        """Human summary: what each step removed and why."""
        lines = [
            f"refine {self.run_id}: {self.files} silver files, {self.files_with_text} with text, "
            f"{self.distinct_contents} distinct contents",
            f"  dedup: {self.signatures_computed} new signatures, {self.contents_banded} contents banded "
            f"(LSH {self.lsh_bands}x{self.lsh_rows}), {self.candidate_pairs} candidate pairs looked at, "
            f"{self.verified_pairs} verified pairs in all, "
            f"{self.split_clusters} clusters split off chains, {self.duplicate_clusters} clusters with copies",
            "  redaction (curation): " + ", ".join(f"{n} {kind}" for kind, n in self.pii_counts.items()),
            "  dropped:",
        ]
        lines += [f"    {reason:<20} {n}" for reason, n in self.drop_reasons.items() if n]
        lines.append(
            f"  kept {self.kept} → gold.training_corpus v{self.table_versions.get('gold.training_corpus')}: "
            f"{self.gold_rows} docs, {self.gold_tokens} tokens, "
            + ", ".join(f"{name} {n}" for name, n in self.gold_splits.items())
        )
        assigned = ", ".join(f"{name} {n}" for name, n in sorted(self.new_repo_splits.items()))
        lines.append(
            f"  splits by {self.split_by}: {self.repositories} repositories with kept documents"
            + (f"; newly assigned: {assigned}" if assigned else "")
        )
        if self.split_note:
            lines.append(f"  WARNING: {self.split_note}")
        return "\n".join(lines)


def _with_exact_keys(silver):
    """silver.files with exact_dup_key recomputed from the (redacted) text, the one source of truth."""
    return silver.withColumn("exact_dup_key", exact_dup_key_column("text"))


def _merge_decisions(spark, config, decisions, run_id: str) -> tuple[int, int]:
    """MERGE the decision columns into silver.files, only where one of them changed."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    path = lake.ensure_table(spark, config, "silver.files")
    changed = " OR ".join(f"NOT (target.`{c}` <=> source.`{c}`)" for c in DECISION_COLUMNS)
    updates = {c: f"source.`{c}`" for c in DECISION_COLUMNS}
    updates.update({"run_id": F.lit(run_id), "updated_at": F.current_timestamp()})
    metrics = (
        DeltaTable.forPath(spark, str(path))
        .alias("target")
        .merge(decisions.alias("source"), "target.file_id = source.file_id")
        .whenMatchedUpdate(condition=changed, set=updates)
        .execute()
    )
    # Delta returns the MERGE metrics as a one-row DataFrame (num_updated_rows, ...).
    row = metrics.first() if metrics is not None else None
    updated = int(row["num_updated_rows"]) if row is not None and "num_updated_rows" in row.asDict() else 0
    return lake.table_version(path), updated


class _Laps:
    """Seconds per step into ``summary.seconds``."""

    def __init__(self, summary: RefineSummary):
        self.summary, self.clock = summary, time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.summary.seconds[step] = round(now - self.clock, 2)
        self.clock = now


def refine(spark, config, run_id: str) -> RefineSummary:
    """Dedup, decontaminate and filter silver.files, then write a new gold.training_corpus version.

    Steps: distinct contents → decontamination and filters per file → dedup clusters and keepers
    → decisions MERGEd into silver.files → kept files become the new gold version.
    """
    from pyspark.sql import functions as F

    from data_platform.gold import check_tokenizer

    settings = refine_sections(config)
    check_tokenizer(settings.gold.tokenizer)
    summary = RefineSummary(run_id)
    lap = _Laps(summary)
    silver = _with_exact_keys(lake.read_table(spark, config, "silver.files")).persist()
    contents = (
        silver.where(F.col("text").isNotNull())
        .groupBy("exact_dup_key")
        .agg(F.min_by("text", "file_id").alias("text"))
        .persist()
    )
    held = [contents, silver]  # unpersisted at the end, whatever happens
    try:
        summary.distinct_contents = contents.count()
        lap("contents")
        files = _decontaminate_and_filter(silver, contents, settings)
        held.append(files)
        lap("decontaminate+filters")
        decided = _deduplicate(spark, config, files, contents, settings, run_id, summary, held)
        lap("dedup")
        version, summary.silver_rows_changed = _merge_decisions(
            spark, config, decided.select("file_id", *DECISION_COLUMNS), run_id
        )
        summary.table_versions["silver.files"] = version
        lap("merge silver")
        crash_point("refine")
        _summarise_decisions(decided, summary)
        _write_gold(spark, config, decided.where(F.col("drop_reason").isNull()), settings, run_id, version, summary)
        lap("gold")
    finally:
        for frame in held:
            frame.unpersist()
    return summary


def _decontaminate_and_filter(silver, contents, settings):
    """silver with contamination_match (computed once per distinct text), filter_reason and eligible."""
    from pyspark.sql import functions as F

    from data_platform.decontaminate import contamination_matches
    from data_platform.filters import filter_reasons

    contamination = contamination_matches(contents, settings.decontamination)
    files = silver.drop("contamination_match").join(contamination, "exact_dup_key", "left")
    files = files.join(filter_reasons(files, settings.filters), "file_id")
    files = files.withColumn("eligible", F.col("filter_reason").isNull()).persist()
    files.count()
    return files


def _deduplicate(spark, config, files, contents, settings, run_id: str, summary: RefineSummary, held: list):
    """``files`` with their dedup cluster, keeper flag and drop_reason (filter reason, else duplicate)."""
    from pyspark.sql import functions as F

    from data_platform.dedup.clustering import content_clusters
    from data_platform.dedup.keeper import content_priority, file_clusters, ranked_files

    repos = lake.read_table(spark, config, "bronze.repos")
    ranked = ranked_files(files.where(F.col("text").isNotNull()), repos, settings.dedup.keep_previous_keeper).persist()
    held.append(ranked)
    clusters = content_clusters(spark, config, contents, settings.dedup, run_id, content_priority(ranked))
    summary.signatures_computed = clusters.signatures_computed
    summary.candidate_pairs, summary.verified_pairs = clusters.candidate_pairs, clusters.verified_pairs
    summary.lsh_bands, summary.lsh_rows = clusters.bands, clusters.rows
    summary.split_clusters = clusters.split_clusters
    summary.contents_banded = clusters.contents_banded
    if clusters.minhash_version is not None:
        summary.table_versions["silver.minhash"] = clusters.minhash_version
    summary.table_versions.update(clusters.table_versions or {})
    dup_reason = F.when(
        F.col("is_dup_keeper") == F.lit(False),
        F.when(F.col("duplicate_of_exact"), "exact_duplicate").otherwise("near_duplicate"),
    )
    decided = (
        files.drop("dup_cluster_id", "dup_cluster_size", "is_dup_keeper", "drop_reason")
        .join(file_clusters(ranked, clusters.clusters), "file_id", "left")
        .withColumn("drop_reason", F.coalesce(F.col("filter_reason"), dup_reason))
        .persist()
    )
    held.append(decided)
    decided.count()
    return decided


def _write_gold(spark, config, kept, settings, run_id: str, silver_version: int, summary: RefineSummary) -> None:
    """Kept files with their split and token counts → a new gold.training_corpus version (built from
    ``silver_version``); the split assignment and per-split counts go into ``summary``."""
    from pyspark.sql import functions as F

    from data_platform.gold import gold_rows

    gold, assignment = gold_rows(spark, config, kept, settings.gold, run_id)
    gold = gold.persist()
    summary.split_by, summary.repositories = assignment.split_by, assignment.repositories
    summary.new_repo_splits, summary.split_note = assignment.new_repositories, assignment.note()
    if assignment.new_repositories:
        summary.table_versions["gold.repo_splits"] = lake.table_version(config.lake.table_path("gold.repo_splits"))
    try:
        summary.table_versions["gold.training_corpus"] = lake.overwrite(
            spark, config, "gold.training_corpus", gold, user_metadata=built_from_metadata(silver_version)
        )
        splits = gold.groupBy("split").agg(F.count("*").alias("n"), F.sum("token_count").alias("t")).collect()
    finally:
        gold.unpersist()
    summary.gold_splits = {row["split"]: int(row["n"]) for row in sorted(splits, key=lambda r: r["split"])}
    summary.gold_rows = sum(summary.gold_splits.values())
    summary.gold_tokens = sum(int(row["t"] or 0) for row in splits)


def _summarise_decisions(decided, summary: RefineSummary) -> None:
    """One aggregation per drop reason for every count the summary shows (a few rows reach the driver)."""
    from pyspark.sql import functions as F

    rows = (
        decided.groupBy("drop_reason")
        .agg(
            F.count("*").alias("files"),
            F.count("text").alias("with_text"),
            F.sum(((F.col("dup_cluster_size") > 1) & F.col("is_dup_keeper")).cast("int")).alias("clusters"),
            F.sum("pii_email_count").alias("email"),
            F.sum("pii_ip_count").alias("ip_address"),
            F.sum("pii_key_count").alias("key"),
            F.sum("pii_password_count").alias("password"),
        )
        .collect()
    )
    total = lambda name: sum(int(row[name] or 0) for row in rows)  # noqa: E731
    summary.files, summary.files_with_text, summary.duplicate_clusters = (
        total("files"),
        total("with_text"),
        total("clusters"),
    )
    summary.kept = sum(int(row["files"]) for row in rows if row["drop_reason"] is None)
    summary.pii_counts = {kind: total(kind) for kind in ("email", "ip_address", "key", "password")}
    counts = {row["drop_reason"]: int(row["files"]) for row in rows if row["drop_reason"] is not None}
    summary.drop_reasons = {reason: counts.get(reason, 0) for reason in DROP_REASONS}
