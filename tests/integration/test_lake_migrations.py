"""Lakes upgrade in place, and writes never drop columns: real Spark + Delta (and delta-rs) tables."""

import datetime as dt
import logging

import pytest
from deltalake import DeltaTable

from codemill.cli.main import main as codemill_main
from data_platform import lake
from data_platform.contracts import TableContract, UnknownColumnsError, contract
from data_platform.migrations import VERSION_PROPERTY, MigrationRefused
from data_platform.ops.records import append_rows
from tests.fixtures.spark_ddl import create_with_spark_sql

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
EVAL = "ops.eval_results"


def older(name: str, without: str, **changes) -> TableContract:
    """The contract as an earlier release had it: one column fewer (and other changes)."""
    current = contract(name).model_dump()
    current["columns"] = [c for c in current["columns"] if c["name"] != without]
    current["keys"] = [k for k in current["keys"] if k != without]
    current.update(changes)
    return TableContract.model_validate(current)


def eval_row(eval_id: str, **extra) -> dict:
    return {"eval_id": eval_id, "model_path": "/m", "benchmark": "heldout", "metric": "loss", "language": "all",
            "value": 1.5, "num_samples": 10, "evaluated_at": NOW, **extra}


def old_eval_lake(spark, config, n_rows=2):
    """ops.eval_results as the release before task_type wrote it (Spark DDL, two rows)."""
    old = older(EVAL, "task_type")
    path = config.lake.table_path(EVAL)
    create_with_spark_sql(spark, old, path)
    rows = [eval_row(f"e{i}") for i in range(n_rows)]
    spark.createDataFrame(rows, old.spark_schema()).write.format("delta").mode("append").save(str(path))
    return path


def cli(*args) -> int:
    with pytest.raises(SystemExit) as done:
        codemill_main(list(args))
    return done.value.code


def test_tables_migrate_adds_the_new_column_and_dry_run_changes_nothing(spark, lake_config, capsys):
    path = old_eval_lake(spark, lake_config)
    before = DeltaTable(str(path)).version()
    root = f"lake.root={lake_config.lake.root}"

    assert cli("tables", "migrate", "--dry-run", root, "spark.master=local[2]") == 0
    out = capsys.readouterr().out
    assert "ops.eval_results" in out and "would add column task_type string" in out
    assert "would create table" in out  # the other tables do not exist yet
    assert DeltaTable(str(path)).version() == before
    assert "task_type" not in DeltaTable(str(path)).schema().to_arrow().names
    assert not lake_config.lake.table_path("bronze.files").exists()

    assert cli("tables", "migrate", root, "spark.master=local[2]") == 0
    out = capsys.readouterr().out
    assert "add column task_type string" in out
    table = DeltaTable(str(path))
    assert table.metadata().configuration[VERSION_PROPERTY] == contract(EVAL).version
    rows = spark.read.format("delta").load(str(path)).orderBy("eval_id").collect()
    assert [r.eval_id for r in rows] == ["e0", "e1"] and all(r.task_type is None for r in rows)
    assert [f.name for f in spark.read.format("delta").load(str(path)).schema] == contract(EVAL).column_names
    assert lake_config.lake.table_path("bronze.files").is_dir()  # new tables created too

    # New writes carry the column, through Spark and through delta-rs alike.
    new = spark.createDataFrame([eval_row("e2", task_type="loss")], contract(EVAL).spark_schema())
    lake.append(spark, lake_config, EVAL, new)
    append_rows(lake_config, EVAL, [eval_row("e3", task_type="completion")])
    got = {r.eval_id: r.task_type for r in spark.read.format("delta").load(str(path)).collect()}
    assert got == {"e0": None, "e1": None, "e2": "loss", "e3": "completion"}

    assert cli("tables", "migrate", "--dry-run", root) == 0
    assert "0 table(s) to change, 0 refused" in capsys.readouterr().out


def test_first_spark_write_upgrades_an_old_table_with_a_log_line(spark, lake_config, caplog):
    path = old_eval_lake(spark, lake_config)
    new = spark.createDataFrame([eval_row("e9", task_type="loss")], contract(EVAL).spark_schema())
    with caplog.at_level(logging.WARNING, logger="data_platform.migrations"):
        lake.merge(spark, lake_config, EVAL, new)
    assert any("upgraded ops.eval_results in place" in r.getMessage() and "task_type" in r.getMessage()
               for r in caplog.records)
    got = {r.eval_id: r.task_type for r in spark.read.format("delta").load(str(path)).collect()}
    assert got == {"e0": None, "e1": None, "e9": "loss"}


def test_first_delta_rs_write_upgrades_an_old_table(lake_config):
    from deltalake import write_deltalake

    from data_platform.ops.records import rows_to_arrow

    path = str(lake_config.lake.table_path(EVAL))
    old_rows = rows_to_arrow(EVAL, [eval_row("e0")]).drop_columns(["task_type"])
    write_deltalake(path, old_rows, mode="append")  # an earlier release, no version recorded
    append_rows(lake_config, EVAL, [eval_row("e1", task_type="loss")])
    table = DeltaTable(path)
    assert table.metadata().configuration[VERSION_PROPERTY] == contract(EVAL).version
    got = {r["eval_id"]: r["task_type"] for r in table.to_pyarrow_table().to_pylist()}
    assert got == {"e0": None, "e1": "loss"}


def test_dropped_or_retyped_columns_are_refused_and_nothing_changes(spark, lake_config, capsys):
    # The table has a column its contract no longer has.
    path = lake_config.lake.table_path(EVAL)
    extra = contract(EVAL).model_dump()
    extra["columns"].append({"name": "legacy_note", "type": "string", "nullable": True, "description": "gone"})
    create_with_spark_sql(spark, TableContract.model_validate(extra), path)
    # A column whose type the contract changed.
    retyped = contract("ops.ingest_errors").model_dump()
    for column in retyped["columns"]:
        if column["name"] == "message":
            column["type"] = "binary"
    errors_path = lake_config.lake.table_path("ops.ingest_errors")
    create_with_spark_sql(spark, TableContract.model_validate(retyped), errors_path)
    before = DeltaTable(str(path)).version(), DeltaTable(str(errors_path)).version()

    with pytest.raises(MigrationRefused, match="legacy_note.*never dropped in place"):
        lake.ensure_table(spark, lake_config, EVAL)
    with pytest.raises(MigrationRefused, match="'message' is binary in the table but string in the contract"):
        lake.ensure_table(spark, lake_config, "ops.ingest_errors")
    assert cli("tables", "migrate", f"lake.root={lake_config.lake.root}", "spark.master=local[2]") == 2
    captured = capsys.readouterr()
    assert "2 refused" in captured.out and "legacy_note" in captured.out and "message" in captured.out
    assert "Nothing was changed" in captured.err
    assert (DeltaTable(str(path)).version(), DeltaTable(str(errors_path)).version()) == before


def test_writing_a_column_the_contract_lacks_raises_and_writes_nothing(spark, lake_config):
    from pyspark.sql import functions as F

    rows = spark.createDataFrame([eval_row("e0", task_type="loss")], contract(EVAL).spark_schema())
    version = lake.append(spark, lake_config, EVAL, rows)
    with pytest.raises(UnknownColumnsError, match=r"ops.eval_results has no column\(s\) \['secret_note'\]"):
        lake.append(spark, lake_config, EVAL, rows.withColumn("secret_note", F.lit("x")))
    with pytest.raises(UnknownColumnsError, match="secret_note"):
        lake.merge(spark, lake_config, EVAL, rows.withColumn("secret_note", F.lit("x")))
    with pytest.raises(UnknownColumnsError, match="secret_note"):
        append_rows(lake_config, EVAL, [eval_row("e1", secret_note="x")])
    assert lake.table_version(lake_config.lake.table_path(EVAL)) == version
    assert "secret_note" not in DeltaTable(str(lake_config.lake.table_path(EVAL))).schema().to_arrow().names
