"""SQL latency on a small lake: `codemill sql` cold from the shell, warm queries on the fast path,
on Spark, and through `codemill sql-server` (Spark Connect), next to DuckDB reading the same
Delta snapshots directly (its own hand-written SQL). Prints one JSON object.

    .venv/bin/python benchmarks/sql_latency.py [--files 5000] [--repeats 5] [--no-server]

Builds its own lake (contract tables bronze.repos, silver.files, silver.functions,
ops.ingest_runs with synthetic rows written by Spark + Delta, two versions of silver.files).
``ratio`` = warm `codemill sql` fast-path latency ÷ DuckDB latency, summed over the query
set (lower is better; target ≤ 3). Targets also: cold `codemill sql` ≤ 8 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The peer: the same questions as data_platform.sql_fast.REFERENCE_QUERIES, written for DuckDB
# by hand over relations registered once (bronze_repos, silver_files, silver_files_v0, …).
DUCKDB_QUERIES = {
    "count": "SELECT count(*) FROM silver_files",
    "group_by": "SELECT language, count(*) AS n, avg(size_bytes) AS mean_bytes, max(line_count) "
                "FROM silver_files GROUP BY language ORDER BY n DESC, language",
    "join": "SELECT r.repo_name, r.license_spdx, count(*) AS files, sum(f.size_bytes) AS bytes "
            "FROM silver_files f JOIN bronze_repos r ON f.repo_id = r.repo_id "
            "GROUP BY r.repo_name, r.license_spdx ORDER BY r.repo_name",
    "version_as_of": "SELECT count(*) AS n, min(path) AS first_path FROM silver_files_v0",
    "to_json": "SELECT to_json(r) AS row_json FROM bronze_repos r ORDER BY row_json",
    "order_limit_nulls": "SELECT path, drop_reason, dup_cluster_id FROM silver_files "
                         "ORDER BY drop_reason NULLS FIRST, dup_cluster_id DESC NULLS LAST, path LIMIT 7",
    "timestamps": "SELECT repo_name, commit_date, crawled_at FROM bronze_repos ORDER BY repo_name",
    "nested": "SELECT run_id, sources, stage_counts, sources[1] AS first_source, len(sources) AS n_sources "
              "FROM ops_ingest_runs ORDER BY run_id",
    "functions": "SELECT language, kind, count(*) AS n, max(end_line - start_line) AS longest "
                 "FROM silver_functions GROUP BY language, kind ORDER BY language, kind",
    "cte_filter": "WITH big AS (SELECT repo_id, path, size_bytes FROM silver_files WHERE size_bytes > 100) "
                  "SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS bytes FROM big",
}
LANGUAGES = "array('python','go','rust','c','java','javascript', NULL)"


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up: caches, JIT
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


_DEFAULTS = {"string": "''", "bigint": "0L", "int": "0", "double": "0.0D", "boolean": "false",
             "timestamp": "timestamp_seconds(1760000000)"}


def _with_defaults(df, name: str):
    """Required contract columns the synthetic rows leave out, filled with a plain value."""
    from data_platform.contracts import contract

    missing = [c for c in contract(name).columns if c.name not in df.columns and not c.nullable]
    return df.selectExpr("*", *[f"{_DEFAULTS[c.type]} AS {c.name}" for c in missing]) if missing else df


def build_lake(spark, config, files: int) -> None:
    """Contract tables with synthetic rows; silver.files gets a second version (VERSION AS OF 0 ≠ now)."""
    from data_platform.lake import conform, init_tables

    names = ["bronze.repos", "silver.files", "silver.functions", "ops.ingest_runs"]
    init_tables(spark, config, names)
    repos = max(files // 100, 1)

    def write(name, df, mode="append"):
        conform(_with_defaults(df, name), name).write.format("delta").mode(mode).save(str(config.lake.table_path(name)))

    write("bronze.repos", spark.range(repos).selectExpr(
        "concat('r', id) AS repo_id", "concat('/src/repo', id) AS repo_url", "concat('org/repo', id) AS repo_name",
        "'git' AS source_kind", "'main' AS ref", "sha1(cast(id AS string)) AS commit_sha",
        "timestamp_seconds(1700000000 + id * 86400) AS commit_date",
        "CASE WHEN id % 3 = 0 THEN NULL ELSE 'MIT' END AS license_spdx",
        "CASE WHEN id % 3 = 0 THEN 'none' ELSE 'permissive' END AS license_class",
        "CASE WHEN id % 2 = 0 THEN id * 10 END AS stars", "100 AS file_count", "'bench' AS run_id",
        "timestamp_seconds(1760000000 + id) AS crawled_at"))
    silver = spark.range(files).selectExpr(
        "sha1(cast(id AS string)) AS file_id", f"concat('r', id % {repos}) AS repo_id", "'/src' AS repo_url",
        "sha1(cast(id AS string)) AS commit_sha", "concat('src/m', id, '.py') AS path", "sha1(cast(id AS string)) AS blob_sha",
        f"element_at({LANGUAGES}, cast(id % 7 + 1 AS int)) AS language", "repeat('x = 1\\n', cast(id % 50 AS int)) AS text",
        "'utf-8' AS encoding", "false AS is_binary", "cast(id * 7919 % 20000 AS bigint) AS size_bytes",
        "cast(id % 50 AS bigint) AS line_count", "CASE WHEN id % 11 = 0 THEN 'too_long' END AS drop_reason",
        "CASE WHEN id % 5 = 0 THEN concat('c', id % 17) END AS dup_cluster_id", "'bench' AS run_id",
        "current_timestamp() AS updated_at")
    write("silver.files", silver.where("id % 2 = 0"))
    write("silver.files", silver, mode="overwrite")  # version 2: all files (version 0 is the empty table)
    write("silver.functions", spark.range(files * 2).selectExpr(
        "sha1(cast(id AS string)) AS function_id", "sha1(cast(id % 1000 AS string)) AS file_id", "'r0' AS repo_id",
        "concat('src/m', id % 1000, '.py') AS path", f"element_at({LANGUAGES}, cast(id % 6 + 1 AS int)) AS language",
        "concat('f', id) AS name", "CASE WHEN id % 4 = 0 THEN 'method' ELSE 'function' END AS kind",
        "cast(id % 300 AS int) AS start_line", "cast(id % 300 + id % 40 AS int) AS end_line", "'bench' AS run_id"))
    write("ops.ingest_runs", spark.range(20).selectExpr(
        "concat('run-', lpad(cast(id AS string), 2, '0')) AS run_id", "array('/src/a', concat('/src/', id)) AS sources",
        "'succeeded' AS status", "map('crawl.files', id * 10, 'curate.files', id * 9) AS stage_counts",
        "timestamp_seconds(1760000000 + id) AS started_at"))


def cold_cli(lake: Path, query: str, *extra: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "CODEMILL_LAKE"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "codemill.cli.main", "sql", query, f"lake.root={lake}", *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_latency(lake: Path, repeats: int) -> dict:
    """Warm queries through `codemill sql-server` (Spark Connect client)."""
    from pyspark.sql import SparkSession

    from data_platform.sql_fast import REFERENCE_QUERIES

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CODEMILL_LAKE"}
    server = subprocess.Popen([sys.executable, "-m", "codemill.cli.main", "sql-server", "--no-thrift",
                               "--connect-port", str(port), f"lake.root={lake}", "spark.master=local[2]"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    try:
        for line in server.stdout:
            if line.startswith("tables:"):
                break
        else:
            raise RuntimeError("sql-server exited before it was ready")
        client = SparkSession.builder.remote(f"sc://localhost:{port}").getOrCreate()
        queries = {n: q for n, q in REFERENCE_QUERIES.items()}
        out = {name: _timed(lambda q=q: client.sql(q).toArrow(), repeats) for name, q in queries.items()}
        client.stop()
        return out
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-server", action="store_true", help="skip the sql-server measurement")
    args = parser.parse_args()

    import duckdb
    from deltalake import DeltaTable

    from data_platform.spark import get_spark
    from data_platform.sql_fast import REFERENCE_QUERIES, FastEngine, local_tables, run_fast_script
    from serving.config import load_config

    lake = Path(tempfile.mkdtemp(prefix="codemill-sql-bench-")) / "lake"
    config = load_config(overrides=[f"lake.root={lake}", "spark.master=local[2]", "spark.shuffle_partitions=2"],
                         environ={})
    spark = get_spark(config)
    build_lake(spark, config, args.files)

    # Warm, in one process: Spark (session started, tables named), the fast path as an
    # interactive `codemill sql` runs it (snapshots refreshed per statement), DuckDB over
    # snapshots registered once.
    from data_platform.lake import register_lake_tables

    register_lake_tables(spark, config)

    tables, restricted = local_tables(config)
    engine = FastEngine(tables, restricted)  # as in an interactive `codemill sql` session

    def fast(query):  # each call checks the tables' logs for new commits, as the CLI does per script
        return run_fast_script(engine, query)

    con = duckdb.connect(config={"threads": 2})
    for name in ("bronze.repos", "silver.files", "silver.functions", "ops.ingest_runs"):
        con.register(name.replace(".", "_"), DeltaTable(str(config.lake.table_path(name))).to_pyarrow_dataset())
    con.register("silver_files_v0", DeltaTable(str(config.lake.table_path("silver.files")), version=0)
                 .to_pyarrow_dataset())
    warm = {}
    for name, query in REFERENCE_QUERIES.items():
        warm[name] = {
            "fast_path_s": _timed(lambda q=query: fast(q), args.repeats),
            "spark_s": _timed(lambda q=query: spark.sql(q).toArrow(), args.repeats),
            "duckdb_s": _timed(lambda q=DUCKDB_QUERIES[name]: con.sql(q).to_arrow_table(), args.repeats),
        }
    spark.stop()

    cold = {
        "fast_path_s": statistics.median(cold_cli(lake, "SELECT count(*) FROM silver.files") for _ in range(3)),
        "spark_s": cold_cli(lake, "SELECT count(*) FROM silver.files", "--engine", "spark",
                            "spark.master=local[2]"),
    }
    server = None if args.no_server else server_latency(lake, args.repeats)

    total = {key: sum(q[key] for q in warm.values()) for key in ("fast_path_s", "spark_s", "duckdb_s")}
    result = {
        "benchmark": "sql_latency",
        "ratio": round(total["fast_path_s"] / total["duckdb_s"], 2),
        "ratio_is": "warm codemill sql (fast path) latency / DuckDB latency, summed over the query set; lower is better",
        "spark_warm_ratio": round(total["spark_s"] / total["duckdb_s"], 1),
        "server_warm_ratio": None if server is None else round(sum(server.values()) / total["duckdb_s"], 1),
        "cold_codemill_sql_s": {k: round(v, 2) for k, v in cold.items()},
        "warm_total_s": {k: round(v, 4) for k, v in total.items()},
        "server_total_s": None if server is None else round(sum(server.values()), 4),
        "warm_queries_s": {n: {k: round(v, 4) for k, v in q.items()} for n, q in warm.items()},
        "files": args.files,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
