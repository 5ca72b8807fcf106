"""Contract tables created by delta-rs are the tables Spark SQL creates, and `tables init` needs no JVM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_platform import lake
from data_platform.contracts import all_contracts, contract
from data_platform.migrations import create_table, plan_table
from tests.fixtures.spark_ddl import create_with_spark_sql

pytestmark = pytest.mark.integration


def first_commit(table_path: Path) -> dict:
    """The actions of a table's version 0, by kind (protocol, metaData, commitInfo)."""
    lines = (table_path / "_delta_log" / f"{0:020d}.json").read_text().splitlines()
    actions = [json.loads(line) for line in lines if line.strip()]
    return {kind: body for action in actions for kind, body in action.items()}


@pytest.mark.parametrize("name", sorted(all_contracts()))
def test_delta_rs_writes_the_log_spark_sql_writes(spark, tmp_path, name):
    table = contract(name)
    create_with_spark_sql(spark, table, tmp_path / "by-spark")
    create_table(table, tmp_path / "by-delta-rs")
    by_spark, by_delta_rs = first_commit(tmp_path / "by-spark"), first_commit(tmp_path / "by-delta-rs")

    assert by_delta_rs["protocol"] == by_spark["protocol"]
    # Types, nullability and every column comment, field by field.
    assert json.loads(by_delta_rs["metaData"]["schemaString"]) == json.loads(by_spark["metaData"]["schemaString"])
    for key in ("description", "partitionColumns", "configuration", "format"):
        assert by_delta_rs["metaData"][key] == by_spark["metaData"][key], key


def row_value(field):
    """A value of a Spark field's type for a one-row DataFrame (None where nullable)."""
    import datetime as dt

    if field.nullable:
        return None
    simple = field.dataType.simpleString()
    return {"string": "x", "bigint": 1, "int": 1, "timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "boolean": True, "double": 1.0, "date": dt.date(2026, 1, 1)}.get(simple, None)


def test_spark_writes_a_delta_rs_table_and_enforces_its_contract(spark, lake_config):
    from pyspark.sql import types as T

    path = lake_config.lake.table_path("bronze.repos")
    create_table(contract("bronze.repos"), path)
    create_table(contract("bronze.repos"), path)  # a second call leaves the table alone
    assert lake.table_version(path) == 0
    assert plan_table(contract("bronze.repos"), path).current  # its contract version is recorded

    schema = contract("bronze.repos").spark_schema()
    required = next(field.name for field in schema.fields if not field.nullable)
    row = {field.name: None for field in schema.fields}
    nullable = T.StructType([T.StructField(f.name, f.dataType, True) for f in schema.fields])
    with pytest.raises(Exception, match=f"NOT NULL constraint violated for column: {required}"):
        spark.createDataFrame([row], nullable).write.format("delta").mode("append").save(str(path))
    assert lake.table_version(path) == 0  # nothing committed
    full = {field.name: row_value(field) for field in schema.fields}
    spark.createDataFrame([full], schema).write.format("delta").mode("append").save(str(path))
    assert lake.table_version(path) == 1


def test_tables_init_creates_the_lake_without_starting_spark(lake_config):
    env = {key: value for key, value in os.environ.items() if key != "CODEMILL_LAKE"}

    def tables_init() -> str:
        done = subprocess.run([sys.executable, "-m", "codemill.cli.main", "tables", "init",
                               f"lake.root={lake_config.lake.root}"], capture_output=True, text=True, env=env,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = tables_init()
    assert sum(" created " in line for line in first.splitlines()) == len(all_contracts())
    assert "given by the next Spark session" in first
    assert not (lake_config.lake.metastore_dir / "metastore_db").exists()  # no Spark session started
    second = tables_init()
    assert sum(" unchanged " in line for line in second.splitlines()) == len(all_contracts())
    for name in all_contracts():
        assert lake.table_version(lake_config.lake.table_path(name)) == 0  # no second commit
