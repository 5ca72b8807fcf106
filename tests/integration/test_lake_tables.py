"""The lake on real Spark + Delta: contract tables, idempotent init, other readers, SQL."""

import datetime as dt
import json

import duckdb
import pytest
from deltalake import DeltaTable

from codemill.cli.main import main as codemill_main
from data_platform import lake
from data_platform.contracts import all_contracts, contract
from data_platform.sql import SqlError, run_script

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _ingest_run_rows(spark, n):
    rows = [
        {
            "run_id": f"run-{i}", "status": "succeeded", "started_at": NOW, "finished_at": NOW,
            "sources": [f"/src/{i}", "/src/shared"], "stage_counts": {"crawl.files": i * 10},
            "stage_seconds": {"crawl": 1.5 * i}, "table_versions": {"bronze.files": i},
            "error_count": i % 2, "config_yaml": "lake: {}", "code_version": "test",
        }
        for i in range(n)
    ]
    return spark.createDataFrame(rows, schema=contract("ops.ingest_runs").spark_schema())


def test_init_creates_every_contract_table_once(spark, lake_config):
    first = lake.init_tables(spark, lake_config)
    assert {r.name for r in first} == set(all_contracts()) and all(r.created for r in first)
    versions = {r.name: lake.table_version(r.path) for r in first}

    second = lake.init_tables(spark, lake_config)
    assert not any(r.created or r.added_columns for r in second)
    assert {r.name: lake.table_version(r.path) for r in second} == versions  # no new commits

    for name, table in all_contracts().items():
        schema = spark.read.format("delta").load(str(lake_config.lake.table_path(name))).schema
        assert [f.name for f in schema.fields] == table.column_names
        assert [f.dataType.simpleString() for f in schema.fields] == [
            f.dataType.simpleString() for f in table.spark_schema().fields
        ]


def test_spark_written_table_reads_identically_in_delta_rs_and_duckdb(spark, lake_config):
    version = lake.append(spark, lake_config, "ops.ingest_runs", _ingest_run_rows(spark, 5))
    path = str(lake_config.lake.table_path("ops.ingest_runs"))

    by_spark = sorted(r.asDict(recursive=True)["run_id"] for r in spark.read.format("delta").load(path).collect())
    dataset = DeltaTable(path, version=version).to_pyarrow_dataset()
    by_delta_rs = dataset.to_table().sort_by("run_id")
    assert by_delta_rs.column("run_id").to_pylist() == by_spark
    assert by_delta_rs.column("stage_counts").to_pylist()[3] == [("crawl.files", 30)]

    con = duckdb.connect()
    con.register("runs", dataset)
    got = con.execute("SELECT run_id, error_count, sources[1] FROM runs ORDER BY run_id").fetchall()
    assert got == [(f"run-{i}", i % 2, f"/src/{i}") for i in range(5)]


def test_merge_on_keys_updates_only_changed_rows(spark, lake_config):
    lake.merge(spark, lake_config, "ops.ingest_runs", _ingest_run_rows(spark, 3))
    v1 = lake.table_version(lake_config.lake.table_path("ops.ingest_runs"))
    changed = _ingest_run_rows(spark, 3).selectExpr("*").where("run_id = 'run-1'").withColumn(
        "status", __import__("pyspark.sql.functions", fromlist=["lit"]).lit("failed"))
    lake.merge(spark, lake_config, "ops.ingest_runs", changed, changed_when="target.status <> source.status")
    table = lake.read_table(spark, lake_config, "ops.ingest_runs")
    assert table.count() == 3
    assert {r.run_id: r.status for r in table.collect()} == {"run-0": "succeeded", "run-1": "failed",
                                                           "run-2": "succeeded"}
    assert lake.table_version(lake_config.lake.table_path("ops.ingest_runs")) == v1 + 1


def test_sql_by_name_with_time_travel_and_errors(spark):
    list(run_script(spark, "CREATE DATABASE IF NOT EXISTS scratch; "
                           "CREATE OR REPLACE TABLE scratch.numbers USING delta AS SELECT id FROM range(3)"))
    list(run_script(spark, "INSERT INTO scratch.numbers VALUES (100)"))
    now = next(run_script(spark, "SELECT count(*) AS n FROM scratch.numbers")).table
    before = next(run_script(spark, "SELECT count(*) AS n FROM scratch.numbers VERSION AS OF 0")).table
    assert now.column("n").to_pylist() == [4] and before.column("n").to_pylist() == [3]

    truncated = next(run_script(spark, "SELECT id FROM range(50)", max_rows=10))
    assert truncated.truncated and truncated.table.num_rows == 10

    with pytest.raises(SqlError) as err:
        list(run_script(spark, "SELECT * FROM scratch.does_not_exist"))
    message = str(err.value)
    assert message.startswith("[TABLE_OR_VIEW_NOT_FOUND]") and "\tat " not in message
    assert len(message.splitlines()) <= 2


def test_cli_sql_formats_and_output_file(spark, tmp_path, capsys):
    list(run_script(spark, "CREATE DATABASE IF NOT EXISTS scratch; CREATE OR REPLACE TABLE scratch.langs "
                           "USING delta AS SELECT * FROM VALUES ('python', 2), ('go', 1) AS t(language, files)"))

    def cli(*args):
        with pytest.raises(SystemExit) as done:
            codemill_main(list(args))
        return done.value.code

    assert cli("sql", "SELECT language, files FROM scratch.langs ORDER BY files DESC", "--format", "csv") == 0
    assert capsys.readouterr().out == "language,files\npython,2\ngo,1\n"

    out = tmp_path / "r.json"
    assert cli("sql", "SELECT * FROM scratch.langs ORDER BY files", "--format", "json", "--output", str(out)) == 0
    assert json.loads(out.read_text()) == [{"language": "go", "files": 1}, {"language": "python", "files": 2}]
    assert capsys.readouterr().err == f"wrote {out}\n"

    assert cli("sql", "SELEC nonsense") == 1
    err = capsys.readouterr().err
    assert err.startswith("SQL error: [PARSE_SYNTAX_ERROR]") and "Traceback" not in err
