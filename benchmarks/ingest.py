"""Crawl and curation throughput: the Spark path against the same row functions in one process.

    .venv/bin/python benchmarks/ingest.py [--source PATH ...] [--master local[2]] [--repeat 2]

Both paths run the same plain functions (``crawl_task``, ``curate_file``) on the same files
(default: the demo corpus), each ``--repeat`` times; the LAST run of each is compared, so both
are warm (imports done, parsers loaded, Python workers started, files in the page cache) and
do the same work. The Spark path is timed on the DataFrame work only (crawl into executors'
memory, then curate), without Delta writes, so the ratio measures what Spark's Python workers
and Arrow transfers cost. ``ratio`` = platform throughput / single-process throughput (files
per second, warm); target on 2 cores: ≥ 1.7. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rates(files: int, size: int, seconds: float, cores: int) -> dict:
    return {
        "seconds": round(seconds, 3),
        "files_per_s": round(files / seconds, 1) if seconds else None,
        "mb_per_s": round(size / 1e6 / seconds, 3) if seconds else None,
        "files_per_s_per_core": round(files / seconds / cores, 1) if seconds else None,
        "mb_per_s_per_core": round(size / 1e6 / seconds / cores, 3) if seconds else None,
    }


def plain(listings, limits, curate_limits) -> dict:
    from data_platform.ingest.crawl import crawl_task
    from data_platform.ingest.curate import curate_file

    started, cpu = time.perf_counter(), time.process_time()
    rows = [row for listing in listings for row in crawl_task(listing.info, listing.entries, limits)]
    crawl_s, crawl_cpu = time.perf_counter() - started, time.process_time() - cpu
    files = [row for row in rows if row["content"] is not None]
    size = sum(len(row["content"]) for row in files)
    started, cpu = time.perf_counter(), time.process_time()
    functions = 0
    for row in files:
        curated = curate_file(row["repo_id"], row["repo_url"], row["commit_sha"], row["path"], row["content"],
                              row["blob_sha"], None, curate_limits)
        functions += len(curated.functions)
    curate_s, curate_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "files": len(files), "bytes": size, "functions": functions,
        "crawl": {**_rates(len(files), size, crawl_s, 1), "cpu_seconds": round(crawl_cpu, 3)},
        "curate": {**_rates(len(files), size, curate_s, 1), "cpu_seconds": round(curate_cpu, 3)},
    }


def _jvm_cpu_seconds(spark) -> float:
    """CPU seconds the Spark JVM (driver and, in local mode, executors) has used so far."""
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_timed(function, accumulator):
    """Wrap a ``mapInArrow`` body to add the Python worker's CPU seconds to an accumulator."""

    def timed(batches, **kwargs):
        started = time.process_time()
        for batch in function(batches, **kwargs):
            accumulator.add(time.process_time() - started)
            yield batch
            started = time.process_time()
        accumulator.add(time.process_time() - started)

    return timed


def spark_path(spark, listings, limits, curate_limits, files_per_task: int, cores: int) -> dict:
    from pyspark.sql import functions as F

    from data_platform.ingest import crawl, curate

    python_cpu = {"crawl": spark.sparkContext.accumulator(0.0), "curate": spark.sparkContext.accumulator(0.0)}
    originals = crawl.crawl_partition, curate.curate_partition
    crawl.crawl_partition = _cpu_timed(originals[0], python_cpu["crawl"])
    curate.curate_partition = _cpu_timed(originals[1], python_cpu["curate"])
    try:
        tasks = crawl.plan_tasks(listings, files_per_task, 2 * cores)
        jvm_start, started = _jvm_cpu_seconds(spark), time.perf_counter()
        crawled = crawl.crawled_dataframe(spark, listings, tasks, limits).where(F.col("error_kind").isNull())
        crawled = crawled.localCheckpoint(eager=True)
        crawl_s, jvm_crawl = time.perf_counter() - started, _jvm_cpu_seconds(spark) - jvm_start
        totals = crawled.agg(F.count("*").alias("files"), F.sum("size_bytes").alias("bytes")).first()
        jvm_start, started = _jvm_cpu_seconds(spark), time.perf_counter()
        curated = curate.curated_dataframe(spark, crawled, {}, curate_limits)
        functions = curated.agg(F.sum(F.size("functions")).alias("n")).first()["n"]
        curate_s, jvm_curate = time.perf_counter() - started, _jvm_cpu_seconds(spark) - jvm_start
    finally:
        crawl.crawl_partition, curate.curate_partition = originals
    crawled.unpersist()
    return {
        "files": totals["files"], "bytes": totals["bytes"], "functions": functions, "tasks": len(tasks),
        "crawl": {**_rates(totals["files"], totals["bytes"], crawl_s, cores),
                  "python_worker_cpu_seconds": round(python_cpu["crawl"].value, 3),
                  "jvm_cpu_seconds": round(jvm_crawl, 3)},
        "curate": {**_rates(totals["files"], totals["bytes"], curate_s, cores),
                   "python_worker_cpu_seconds": round(python_cpu["curate"].value, 3),
                   "jvm_cpu_seconds": round(jvm_curate, 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", action="append", default=[], help="sources (default: the demo corpus)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each path; the last (warm) run of each is compared")
    parser.add_argument("--files-per-task", type=int, default=400)
    args = parser.parse_args()

    from data_platform.ingest.curate import CurateLimits
    from data_platform.ingest.demo_corpus import demo_sources
    from data_platform.ingest.sources import Limits, list_source
    from data_platform.spark import get_spark
    from serving.config import load_config

    cores = int(args.master[len("local[") : -1]) if args.master.startswith("local[") and args.master[6:-1].isdigit() \
        else os.cpu_count()
    sources = args.source or demo_sources()
    config = load_config(overrides=[f"lake.root={tempfile.mkdtemp(prefix='codemill-bench-')}",
                                    f"spark.master={args.master}"], environ={})
    limits = Limits(config.ingest.max_file_bytes, config.ingest.archive_max_total_bytes,
                    config.ingest.archive_max_ratio)
    curate_limits = CurateLimits(config.ingest.parse_max_bytes, config.ingest.parse_timeout_ms / 1000,
                                 config.ingest.max_body_chars)
    listings = [list_source(source, limits) for source in sources]

    repeat = max(args.repeat, 2)
    singles = [plain(listings, limits, curate_limits) for _ in range(repeat)]
    single = singles[-1]
    started = time.perf_counter()
    spark = get_spark(config)
    session_s = time.perf_counter() - started
    runs = [spark_path(spark, listings, limits, curate_limits, args.files_per_task, cores) for _ in range(repeat)]
    spark.stop()
    best = runs[-1]  # warm, like the single-process run it is compared with
    plain_total = single["crawl"]["seconds"] + single["curate"]["seconds"]
    spark_total = best["crawl"]["seconds"] + best["curate"]["seconds"]
    result = {
        "benchmark": "ingest",
        "ratio": round(plain_total / spark_total, 2),  # (files / spark_s) / (files / plain_s)
        "sources": len(sources),
        "files": single["files"],
        "megabytes": round(single["bytes"] / 1e6, 2),
        "cores": cores,
        "machine_cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "single_process_first_run": singles[0],
        "single_process": single,
        "spark_session_start_seconds": round(session_s, 1),
        "spark_first_run": runs[0],
        "spark_warm_run": best,
        "speedup_crawl": round(single["crawl"]["seconds"] / best["crawl"]["seconds"], 2),
        "speedup_curate": round(single["curate"]["seconds"] / best["curate"]["seconds"], 2),
        # Wall-clock speedups need an idle machine; CPU seconds stay comparable on a busy one.
        "curate_cpu_ratio_spark_over_plain": round(
            (best["curate"]["python_worker_cpu_seconds"] + best["curate"]["jvm_cpu_seconds"])
            / single["curate"]["cpu_seconds"], 2),
        "target_speedup": 1.7,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
