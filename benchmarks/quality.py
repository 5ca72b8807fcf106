"""Great Expectations gate time against row count: validate synthetic gold versions of
10k and 100k rows with the full gold suite (contract + semantic + cross-row checks). Prints JSON.

    .venv/bin/python benchmarks/quality.py [--rows 10000 100000] [--master local[2]]

Each size is written as a new gold version and gated once (the first gate in the process also
pays GE's import and context set-up, reported separately as `first_gate_overhead_s`).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_gold(spark, rows: int, docs_per_repo: int = 20):
    """Contract-shaped gold rows generated inside Spark (no driver loop)."""
    from pyspark.sql import functions as F

    languages = F.array(*[F.lit(x) for x in ("python", "javascript", "go", "rust", "java", "cpp")])
    repo = F.concat(F.lit("repo-"), (F.col("id") / docs_per_repo).cast("long").cast("string"))
    text = F.concat(
        F.lit("def f_"),
        F.col("id").cast("string"),
        F.lit("(x):\n    '''Add a constant.'''\n    return x + "),
        F.col("id").cast("string"),
        F.lit("\n"),
    )
    bucket = F.abs(F.hash(repo)) % 100
    return (
        spark.range(rows)
        .withColumn("repo_id", repo)
        .withColumn("text", text)
        .select(
            F.sha2(F.col("id").cast("string"), 256).substr(1, 16).alias("doc_id"),
            "repo_id",
            F.concat(F.lit("https://example.org/"), F.col("repo_id")).alias("repo_url"),
            F.sha2(F.col("repo_id"), 256).substr(1, 40).alias("commit_sha"),
            F.concat(F.lit("src/m"), F.col("id").cast("string"), F.lit(".py")).alias("path"),
            F.element_at(languages, (F.col("id") % 6 + 1).cast("int")).alias("language"),
            "text",
            F.lit("MIT").alias("license_spdx"),
            F.lit("permissive").alias("license_class"),
            F.when(bucket < 90, "train").when(bucket < 95, "valid").otherwise("test").alias("split"),
            F.lit(12).cast("long").alias("token_count"),
            F.length("text").cast("long").alias("size_bytes"),
            F.sha2(F.col("text"), 256).alias("exact_dup_key"),
            F.lit("bench").alias("run_id"),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument(
        "--snapshot-partitions",
        type=int,
        default=None,
        help="spark.databricks.delta.snapshotPartitions (Delta's default is 50; small tables want 1-2)",
    )
    args = parser.parse_args()

    from data_platform.lake import overwrite
    from data_platform.quality import gate_gold
    from data_platform.spark import get_spark
    from serving.config import load_config

    results = []
    with tempfile.TemporaryDirectory(prefix="codemill-quality-bench-") as lake:
        overrides = [f"lake.root={lake}", f"spark.master={args.master}"]
        if args.snapshot_partitions:
            overrides.append(
                f"spark.conf={{spark.databricks.delta.snapshotPartitions: '{args.snapshot_partitions}'}}"
            )
        config = load_config(overrides=overrides, environ={})
        started = time.perf_counter()
        spark = get_spark(config)
        spark_start = time.perf_counter() - started
        # Warm-up gate on a tiny version: GE import, context and Data Docs site creation.
        version = overwrite(spark, config, "gold.training_corpus", synthetic_gold(spark, 200))
        started = time.perf_counter()
        gate_gold(spark, config, "bench-warmup", version)
        first_gate = time.perf_counter() - started
        for rows in args.rows:
            version = overwrite(spark, config, "gold.training_corpus", synthetic_gold(spark, rows))
            started = time.perf_counter()
            result = gate_gold(spark, config, f"bench-{rows}", version)
            seconds = time.perf_counter() - started
            outcome = result.validation
            results.append(
                {
                    "rows": rows,
                    "gate_seconds": round(seconds, 2),
                    "rows_per_second": round(rows / seconds),
                    "stage_seconds": outcome.stage_seconds,
                    "expectations": len(outcome.outcomes),
                    "passed": outcome.success,
                    "failures": [f.describe() for f in outcome.failures],
                }
            )
        spark.stop()
    print(
        json.dumps(
            {
                "benchmark": "quality_gate",
                "master": args.master,
                "delta_snapshot_partitions": args.snapshot_partitions or "default (50)",
                "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
                "spark_start_s": round(spark_start, 1),
                "first_gate_overhead_s (200 rows)": round(first_gate, 1),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
