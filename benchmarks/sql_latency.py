"""SQL latency: cold `codemill sql "SELECT 1"`, and warm queries on a 100k-row Delta table
through Spark next to DuckDB reading the same snapshot (via delta-rs). Prints JSON.

    .venv/bin/python benchmarks/sql_latency.py [--rows 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUERIES = {
    "count": "SELECT count(*) FROM {t}",
    "group_by": "SELECT language, count(*) AS n, avg(size_bytes) AS s FROM {t} GROUP BY language ORDER BY n DESC",
    "filter_top": "SELECT path, size_bytes FROM {t} WHERE language = 'python' ORDER BY size_bytes DESC LIMIT 10",
}


def _timed(fn, repeats: int) -> dict:
    fn()  # warm-up: JIT, file listing caches
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(samples), 4), "min_s": round(min(samples), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import duckdb
    from deltalake import DeltaTable

    from data_platform.spark import get_spark
    from serving.config import load_config

    lake = Path(tempfile.mkdtemp(prefix="codemill-bench-"))
    env = dict(os.environ, CODEMILL_LAKE=str(lake))
    start = time.perf_counter()
    cold = subprocess.run([sys.executable, "-m", "codemill.cli.main", "sql", "SELECT 1"], env=env,
                          capture_output=True, text=True)
    cold_s = time.perf_counter() - start
    assert cold.returncode == 0, cold.stderr

    config = load_config(overrides=[f"lake.root={lake}"], environ={})
    spark = get_spark(config)
    path = str(lake / "bench" / "files")
    spark.range(args.rows).selectExpr(
        "concat('src/', id, '.py') AS path",
        "element_at(array('python','go','rust','c','java'), cast(id % 5 + 1 AS int)) AS language",
        "cast(id * 7919 % 100000 AS bigint) AS size_bytes",
    ).repartition(4).write.format("delta").mode("overwrite").save(path)

    dataset = DeltaTable(path).to_pyarrow_dataset()
    con = duckdb.connect()
    con.register("files", dataset)
    results = {}
    for name, sql in QUERIES.items():
        results[name] = {
            "spark": _timed(lambda sql=sql: spark.sql(sql.format(t=f"delta.`{path}`")).collect(), args.repeats),
            "duckdb": _timed(lambda sql=sql: con.execute(sql.format(t="files")).fetchall(), args.repeats),
        }
    spark.stop()
    print(json.dumps({
        "benchmark": "sql_latency",
        "rows": args.rows,
        "cold_codemill_sql_select_1_s": round(cold_s, 2),
        "warm_queries": results,
        "cpus": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
