"""The data profile behind the report: small aggregates of gold and silver computed by Spark.

Each aggregate is a handful of rows (buckets, languages, reasons), so only those reach the
driver. A table that does not exist yet simply leaves its sections empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data_platform.config import PlatformConfig
from data_platform.lake import is_delta_table, read_table, table_version


def log2_bucket_label(bucket: int) -> str:
    """Label of a power-of-two bucket: 0 → "0", 1 → "1", 2 → "2-3", 3 → "4-7", 11 → "1Ki-2Ki"."""
    if bucket <= 0:
        return "0"
    low, high = 2 ** (bucket - 1), 2**bucket - 1
    if low == high:
        return _compact(low)
    return f"{_compact(low)}-{_compact(high + 1) if high + 1 >= 1024 else _compact(high)}"


def _compact(value: int) -> str:
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


@dataclass
class Profile:
    """Aggregates for the plots; every mapping is small (tens of entries)."""

    gold_version: int | None = None
    gold_rows: int = 0
    rows_by_language_split: dict[tuple[str, str], int] = field(default_factory=dict)
    gold_size_buckets: dict[int, int] = field(default_factory=dict)
    silver_size_buckets: dict[int, int] = field(default_factory=dict)
    max_line_buckets: dict[int, int] = field(default_factory=dict)
    mean_line_buckets: dict[int, int] = field(default_factory=dict)
    drop_reasons: dict[str, int] = field(default_factory=dict)
    cluster_sizes: dict[int, int] = field(default_factory=dict)
    pii_counts: dict[str, int] = field(default_factory=dict)
    pii_files: int = 0
    silver_rows: int = 0


def _log2_bucket(column: str):
    from pyspark.sql import functions as F

    col = F.col(column)
    return F.when(col.isNull() | (col <= 0), F.lit(0)).otherwise(F.floor(F.log2(col)).cast("int") + 1)


def _counts(df, key) -> dict:
    return {row[0]: int(row[1]) for row in df.groupBy(key.alias("k")).count().collect()}


def _profile_gold(spark, config: PlatformConfig, version: int | None, profile: Profile) -> None:
    if version is None:
        version = table_version(config.lake.table_path("gold.training_corpus"))
    gold = read_table(spark, config, "gold.training_corpus", version)
    rows = gold.groupBy("language", "split").count().collect()
    profile.rows_by_language_split = {
        (r.language or "null", r.split or "null"): int(r["count"]) for r in rows
    }
    profile.gold_rows = sum(profile.rows_by_language_split.values())
    profile.gold_size_buckets = _counts(gold, _log2_bucket("size_bytes"))
    profile.gold_version = version


def _profile_silver(spark, config: PlatformConfig, profile: Profile) -> None:
    from pyspark.sql import functions as F

    silver = read_table(spark, config, "silver.files").cache()
    try:
        profile.silver_size_buckets = _counts(silver, _log2_bucket("size_bytes"))
        profile.max_line_buckets = _counts(silver, _log2_bucket("max_line_length"))
        # Mean line length in 10-character buckets, everything from 200 up in the last one.
        mean_bucket = F.least(
            F.floor(F.coalesce(F.col("mean_line_length"), F.lit(0.0)) / 10), F.lit(20)
        ).cast("int")
        profile.mean_line_buckets = _counts(silver, mean_bucket)
        profile.drop_reasons = _counts(silver, F.coalesce(F.col("drop_reason"), F.lit("(kept)")))
        clusters = (
            silver.where(F.col("dup_cluster_id").isNotNull())
            .groupBy("dup_cluster_id")
            .agg(F.max("dup_cluster_size").alias("size"))
        )
        profile.cluster_sizes = _counts(clusters, F.col("size"))
        pii_columns = [c for c in silver.columns if c.startswith("pii_") and c.endswith("_count")]
        if pii_columns:
            any_pii = sum((F.coalesce(F.col(c), F.lit(0)) for c in pii_columns), F.lit(0)) > 0
            sums = silver.agg(
                *[F.sum(c).alias(c) for c in pii_columns],
                F.sum(any_pii.cast("int")).alias("_files"),
                F.count(F.lit(1)).alias("_rows"),
            ).first()
            profile.pii_counts = {
                c.removeprefix("pii_").removesuffix("_count"): int(sums[c] or 0) for c in pii_columns
            }
            profile.pii_files = int(sums["_files"] or 0)
            profile.silver_rows = int(sums["_rows"] or 0)
    finally:
        silver.unpersist()


def collect_profile(spark, config: PlatformConfig, gold_version: int | None = None) -> Profile:
    """Aggregates of gold (at ``gold_version``, default latest) and of current silver.files."""
    profile = Profile()
    if is_delta_table(config.lake.table_path("gold.training_corpus")):
        _profile_gold(spark, config, gold_version, profile)
    if is_delta_table(config.lake.table_path("silver.files")):
        _profile_silver(spark, config, profile)
    return profile
