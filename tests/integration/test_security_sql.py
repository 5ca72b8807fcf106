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
    init_tables(spark, lake_config, ["bronze.files", "bronze.file_contents", "silver.files", "gold.quarantine"])
    restricted = {name: str(path) for name, path in lake_config.lake.restricted_paths().items()}
    assert set(restricted) >= {"bronze.file_contents", "gold.quarantine"}
    assert "bronze.files" not in restricted and not all_contracts()["bronze.files"].restricted
    yield lake_config, restricted_guard(spark, restricted)
    spark.sql("USE default")


def test_restricted_tables_are_refused_however_they_are_named(spark, guarded):
    config, guard = guarded
    path = config.lake.table_path("bronze.file_contents")
    assert path.is_relative_to(config.lake.restricted_root)
    list(run_script(spark, "CREATE OR REPLACE VIEW default.raw_copy AS SELECT path, content FROM bronze.file_contents"))
    refused = [
        "SELECT content FROM bronze.file_contents",
        "select count(*) from BRONZE.File_Contents",
        "SELECT * FROM spark_catalog.bronze.file_contents",
        f"SELECT * FROM delta.`{path}`",
        f"SELECT * FROM parquet.`{config.lake.restricted_root}/bronze/file_contents/x.parquet`",  # the prefix
        "WITH q AS (SELECT text FROM gold.quarantine) SELECT * FROM q",
        "SELECT * FROM bronze.files b JOIN bronze.file_contents c ON b.path = c.path",
        "SELECT * FROM default.raw_copy",  # a view reaching the contents
        "DROP TABLE bronze.file_contents",
        "CREATE VIEW default.sneaky AS SELECT * FROM bronze.file_contents",
    ]
    for statement in refused:
        with pytest.raises(RestrictedTableError, match="restricted"):
            list(run_script(spark, statement, guard=guard))
    with pytest.raises(RestrictedTableError):
        list(run_script(spark, "USE bronze; SELECT * FROM file_contents", guard=guard))
    spark.sql("USE default")
    # bronze.files is metadata now: it answers without the flag
    assert [r.table.column_names[:2] for r in run_script(spark, "SELECT * FROM bronze.files", guard=guard)] == [
        ["repo_id", "repo_url"]]
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

    assert cli("SELECT count(*) AS n FROM bronze.file_contents", "--format", "csv") == 1
    assert "restricted" in capsys.readouterr().err
    assert cli("SELECT count(*) AS n FROM bronze.files", "--format", "csv") == 0
    capsys.readouterr()
    assert cli("SELECT count(*) AS n FROM bronze.file_contents", "--format", "csv", "--allow-restricted") == 0
    header, count = capsys.readouterr().out.split()
    assert header == "n" and count.isdigit()
