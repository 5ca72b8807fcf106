"""`codemill sql` prints the same thing whichever engine answers: DuckDB fast path vs Spark.

One lake built by a real ingest (Spark + Delta + tree-sitter) of the fixture repository;
every query of the reference set (the benchmark's) runs on both engines and the table, CSV
and JSON renderings must be byte-identical. Then the CLI's engine choice and fallbacks.
"""

from __future__ import annotations

import pytest

from codemill.cli.main import main as codemill_main
from data_platform.contracts import all_contracts
from data_platform.ingest.run import run_ingest
from data_platform.lake import is_delta_table, register_lake_tables
from data_platform.sql import RENDERERS, run_script
from data_platform.sql_fast import (
    REFERENCE_QUERIES,
    FastEngine,
    FastPlan,
    NotFastPathable,
    local_tables,
    run_fast_script,
)
from tests.conftest import make_config
from tests.fixtures.ingest import code_repo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("sql-engines")
    config = make_config(root / "lake", "quality.validate_tables=[]", "quality.report_after_ingest=false",
                         f"ingest.cache_dir={root}/cache")
    result = run_ingest(spark, config, [str(code_repo(root / "code"))], run_id="sql-engines-1")
    assert result.status == "succeeded", result
    # The session's catalog is shared by the test process: point its names at this lake.
    for name in all_contracts():
        if is_delta_table(config.lake.table_path(name)):
            spark.sql(f"DROP TABLE IF EXISTS {name}")
    register_lake_tables(spark, config)
    return config


@pytest.mark.parametrize("name", sorted(REFERENCE_QUERIES))
def test_both_engines_print_the_same(spark, lake, name):
    query = REFERENCE_QUERIES[name]
    tables, restricted = local_tables(lake)
    (fast,) = run_fast_script(FastEngine(tables, restricted), query)
    (slow,) = run_script(spark, query)
    if name != "version_as_of":  # version 0 of a table is its empty creation
        assert fast.table.num_rows > 0, "the query must see rows, or equality proves little"
    for fmt, render in RENDERERS.items():
        assert render(fast.table) == render(slow.table), f"{name}: {fmt} output differs"


def test_cli_chooses_the_engine_and_falls_back(spark, lake, capsys):
    args = [f"lake.root={lake.lake.root}", "spark.master=local[2]", "spark.shuffle_partitions=2", "--verbose"]

    def cli(*more):
        with pytest.raises(SystemExit) as done:
            codemill_main(["sql", *more, *args])
        captured = capsys.readouterr()
        return done.value.code, captured.out, captured.err

    code, out, err = cli("SELECT count(*) AS n FROM silver.files", "--format", "csv")
    assert code == 0 and "engine: duckdb" in err
    fast_count = out.split()[1]
    code, out, err = cli("SELECT count(*) AS n FROM silver.files", "--format", "csv", "--engine", "spark")
    assert code == 0 and "engine: spark" in err and out.split()[1] == fast_count
    # Not read-only: auto goes to Spark, --engine duckdb refuses with the reason.
    code, out, err = cli("SHOW TABLES IN silver")
    assert code == 0 and "engine: spark" in err and "files" in out
    code, _, err = cli("SHOW TABLES IN silver", "--engine", "duckdb")
    assert code == 1 and "fast path cannot answer" in err
    # Restricted tables are refused on the fast path as on Spark, allowed with the flag.
    code, _, err = cli("SELECT count(*) FROM (SELECT * FROM bronze.file_contents) t", "--engine", "duckdb")
    assert code == 1 and "restricted" in err
    code, out, err = cli("SELECT count(*) AS n FROM bronze.file_contents", "--format", "csv", "--allow-restricted")
    assert code == 0 and "engine: duckdb" in err and int(out.split()[1]) > 0
    # The metadata is not restricted: same rows, no flag needed.
    code, meta, err = cli("SELECT count(*) AS n FROM bronze.files", "--format", "csv")
    assert code == 0 and "engine: duckdb" in err and meta.split()[1] == out.split()[1]


def test_duckdb_reads_nothing_but_the_snapshots(lake):
    """Even a translated query that names a file cannot read it: DuckDB's file access is off."""
    tables, _ = local_tables(lake)
    engine = FastEngine(tables, {})
    files = sorted(lake.lake.table_path("bronze.files").glob("*.parquet"))
    assert files
    with pytest.raises(NotFastPathable, match="(?i)external access|permission"):
        engine.run(FastPlan("x", f"SELECT count(*) FROM read_parquet('{files[0]}')"), max_rows=10)


def test_object_store_relations_print_the_same(lake, monkeypatch):
    """An object-store table is read through delta-rs' Arrow dataset instead of DuckDB's own
    Parquet reader (decision 0177). Forced here on the same Spark-written snapshots, every query
    of the reference set renders byte-identically to the file path, which the test above holds
    to Spark (INT96 timestamps, maps and arrays, NULL ordering included)."""
    import data_platform.sql_fast as sql_fast

    tables, restricted = local_tables(lake)
    by_files = {name: run_fast_script(FastEngine(tables, restricted), query)[0]
                for name, query in REFERENCE_QUERIES.items()}
    monkeypatch.setattr(sql_fast, "is_remote", lambda location: True)
    engine = FastEngine(tables, restricted)
    for name, query in REFERENCE_QUERIES.items():
        (by_dataset,) = run_fast_script(engine, query)
        assert engine._datasets, "the Arrow dataset relation was not used"
        for fmt, render in RENDERERS.items():
            assert render(by_dataset.table) == render(by_files[name].table), f"{name}: {fmt} output differs"
