"""`codemill sql` refuses restricted tables unless --allow-restricted (real Spark + Delta)."""

from __future__ import annotations

import pytest

from codemill.cli.main import main as codemill_main
from data_platform.contracts import all_contracts
from data_platform.lake import init_tables
from data_platform.sql import RestrictedTableError, restricted_guard, run_script

pytestmark = pytest.mark.integration


@pytest.fixture()
def guarded(spark, lake_config):
    init_tables(spark, lake_config, ["bronze.files", "silver.files", "gold.quarantine"])
    restricted = {name: str(lake_config.lake.table_path(name)) for name, c in all_contracts().items() if c.restricted}
    assert set(restricted) >= {"bronze.files", "gold.quarantine"}
    yield lake_config, restricted_guard(spark, restricted)
    spark.sql("USE default")


def test_restricted_tables_are_refused_however_they_are_named(spark, guarded):
    config, guard = guarded
    path = config.lake.table_path("bronze.files")
    list(run_script(spark, "CREATE OR REPLACE VIEW default.raw_copy AS SELECT path, content FROM bronze.files"))
    refused = [
        "SELECT content FROM bronze.files",
        "select count(*) from BRONZE.Files",
        "SELECT * FROM spark_catalog.bronze.files",
        f"SELECT * FROM delta.`{path}`",
        "WITH q AS (SELECT text FROM gold.quarantine) SELECT * FROM q",
        "SELECT * FROM silver.files s JOIN bronze.files b ON s.path = b.path",
        "SELECT * FROM default.raw_copy",  # a view reaching bronze
        "DROP TABLE bronze.files",
        "CREATE VIEW default.sneaky AS SELECT * FROM bronze.files",
    ]
    for statement in refused:
        with pytest.raises(RestrictedTableError, match="restricted"):
            list(run_script(spark, statement, guard=guard))
    with pytest.raises(RestrictedTableError):
        list(run_script(spark, "USE bronze; SELECT * FROM files", guard=guard))
    spark.sql("USE default")
    # unrestricted tables answer (the shared session's catalog may name another test's lake: no row counts)
    assert [r.table.column_names[:2] for r in run_script(spark, "SELECT * FROM silver.files", guard=guard)] == [
        ["file_id", "repo_id"]]
    spark.sql("DROP VIEW IF EXISTS default.raw_copy")


def test_cli_refuses_without_the_flag_and_answers_with_it(spark, guarded, capsys):
    config, _ = guarded
    args = [f"lake.root={config.lake.root}", "spark.master=local[2]", "spark.shuffle_partitions=2"]

    def cli(*more):
        with pytest.raises(SystemExit) as done:
            codemill_main(["sql", *more, *args])
        return done.value.code

    assert cli("SELECT count(*) AS n FROM bronze.files", "--format", "csv") == 1
    assert "restricted" in capsys.readouterr().err
    assert cli("SELECT count(*) AS n FROM bronze.files", "--format", "csv", "--allow-restricted") == 0
    header, count = capsys.readouterr().out.split()
    assert header == "n" and count.isdigit()
