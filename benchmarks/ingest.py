"""Crawl and curation throughput: the Spark path against the same row functions in one process.

    .venv/bin/python benchmarks/ingest.py [--source PATH ...] [--master local[2]] [--rounds 3] [--set KEY=VALUE]

Both paths run the same plain functions (``crawl_task``, ``curate_file``) on the same files
(default: the demo corpus): one cold run each, then ``--rounds`` warm rounds that alternate the
two (imports done, parsers loaded, Python workers started, files in the page cache), so a
noisy minute on a shared machine hits both; each side's fastest warm curation is compared.
The Spark path is timed on the DataFrame work only (crawl into executors' memory, then
curate), without Delta writes, so the ratios measure what Spark's tasks, Python workers and
Arrow transfers cost. Tasks are planned as the job plans them (``task_plan``).

``ratio`` = Spark's curation throughput / the single process's (files per second, warm): the
figure issue 18 sets at ≥ 1.7 on 2 cores. ``crawl_and_curate_ratio`` adds the crawl to both
sides; the crawl is ~0.05 s of work in one process and ~0.4 s as a Spark job (task launches,
rows into executor memory), a fixed cost that a larger corpus would hide. Prints one JSON object.
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


def spark_path(spark, listings, limits, curate_limits, ingest, cores: int) -> dict:
    """The job's crawl and curate DataFrames, tasks planned as the job plans them (``ingest`` settings)."""
    from pyspark.sql import functions as F

    from data_platform.ingest import crawl, curate
    from data_platform.ingest.task_plan import plan_from_settings

    python_cpu = {"crawl": spark.sparkContext.accumulator(0.0), "curate": spark.sparkContext.accumulator(0.0)}
    originals = crawl.crawl_partition, curate.curate_partition
    crawl.crawl_partition = _cpu_timed(originals[0], python_cpu["crawl"])
    curate.curate_partition = _cpu_timed(originals[1], python_cpu["curate"])
    try:
        tasks = plan_from_settings(listings, ingest, cores)
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


def report(single, best, singles, runs, first_single, first_spark) -> dict:
    """The JSON object: ratios of the fastest warm runs, and every run's figures."""
    plain_total = single["crawl"]["seconds"] + single["curate"]["seconds"]
    spark_total = best["crawl"]["seconds"] + best["curate"]["seconds"]
    # A path that lost files or functions did less work: it scores 0, however fast it was.
    same = all(run[key] == single[key] for run in [*singles, *runs, first_single, first_spark]
               for key in ("files", "bytes", "functions"))
    return {
        "benchmark": "ingest",
        "ratio": round(single["curate"]["seconds"] / best["curate"]["seconds"], 2) if same else 0.0,
        "crawl_and_curate_ratio": round(plain_total / spark_total, 2) if same else 0.0,
        "same_output": same,
        "files": single["files"],
        "megabytes": round(single["bytes"] / 1e6, 2),
        "machine_cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "warm_curate_seconds": {"single_process": [run["curate"]["seconds"] for run in singles],
                                "spark": [run["curate"]["seconds"] for run in runs]},
        "single_process_first_run": first_single,
        "single_process": single,
        "spark_first_run": first_spark,
        "spark_warm_run": best,
        "speedup_crawl": round(single["crawl"]["seconds"] / best["crawl"]["seconds"], 2),
        # Wall-clock speedups need an idle machine; CPU seconds stay comparable on a busy one.
        "curate_cpu_ratio_spark_over_plain": round(
            (best["curate"]["python_worker_cpu_seconds"] + best["curate"]["jvm_cpu_seconds"])
            / single["curate"]["cpu_seconds"], 2),
        "target_speedup": 1.7,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", action="append", default=[], help="sources (default: the demo corpus)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--rounds", type=int, default=3,
                        help="warm rounds, each running both paths; each side's fastest curation is compared")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config overrides, e.g. ingest.task_bytes=4000000 (default: the job's settings)")
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
                                    f"spark.master={args.master}", *args.set], environ={})
    limits = Limits(config.ingest.max_file_bytes, config.ingest.archive_max_total_bytes,
                    config.ingest.archive_max_ratio)
    curate_limits = CurateLimits(config.ingest.parse_max_bytes, config.ingest.parse_timeout_ms / 1000,
                                 config.ingest.max_body_chars)
    listings = [list_source(source, limits) for source in sources]

    started = time.perf_counter()
    spark = get_spark(config)
    session_s = time.perf_counter() - started
    first_single = plain(listings, limits, curate_limits)
    first_spark = spark_path(spark, listings, limits, curate_limits, config.ingest, cores)
    singles, runs = [], []
    for _ in range(max(args.rounds, 1)):
        singles.append(plain(listings, limits, curate_limits))
        runs.append(spark_path(spark, listings, limits, curate_limits, config.ingest, cores))
    spark.stop()
    single = min(singles, key=lambda run: run["curate"]["seconds"])
    best = min(runs, key=lambda run: run["curate"]["seconds"])
    result = report(single, best, singles, runs, first_single, first_spark)
    result.update(sources=len(sources), cores=cores, spark_session_start_seconds=round(session_s, 1))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
