"""The fast path's planner: what it answers, what it leaves to Spark, and what it refuses (no engine runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from data_platform.config import LakeSettings
from data_platform.sql import RestrictedTableError
from data_platform.sql_fast import NotFastPathable, plan_fast

LAKE = Path("/lake")
_SETTINGS = LakeSettings(root=LAKE)  # the real layout: restricted tables under /lake/restricted/
TABLES = {name: _SETTINGS.table_path(name) for name in
          ("bronze.files", "bronze.file_contents", "bronze.repos", "silver.files", "gold.quarantine")}
RESTRICTED = _SETTINGS.restricted_paths()


def plan(sql: str):
    return plan_fast(sql, TABLES, RESTRICTED)


@pytest.mark.parametrize("sql", [
    "SELECT content FROM bronze.file_contents",
    "select count(*) from BRONZE.File_Contents",
    "SELECT * FROM spark_catalog.bronze.file_contents",
    "SELECT * FROM delta.`/lake/restricted/bronze/file_contents`",
    "SELECT * FROM delta.`/lake/restricted/bronze/file_contents/`",
    "SELECT * FROM delta.`/lake/silver/../restricted/bronze/file_contents`",
    "SELECT * FROM delta.`file:///lake/restricted/bronze/file_contents`",
    "SELECT * FROM delta.`/lake/restricted/other/table`",  # anything under the restricted prefix
    "WITH q AS (SELECT text FROM gold.quarantine) SELECT * FROM q",
    "SELECT * FROM bronze.files b JOIN bronze.file_contents c ON b.path = c.path",
    "SELECT * FROM silver.files WHERE path IN (SELECT path FROM bronze.file_contents)",
    "SELECT (SELECT max(length(content)) FROM bronze.file_contents) AS m",
    "SELECT path FROM silver.files UNION ALL SELECT path FROM bronze.file_contents VERSION AS OF 0",
])
def test_restricted_tables_are_refused_wherever_they_appear(sql):
    with pytest.raises(RestrictedTableError, match="restricted"):
        plan(sql)


def test_a_restricted_name_is_refused_even_when_not_on_disk():
    """An account the storage permission keeps out sees no table there: still refused by name."""
    unreadable = {name: path for name, path in TABLES.items() if name != "bronze.file_contents"}
    with pytest.raises(RestrictedTableError, match="bronze.file_contents is restricted"):
        plan_fast("SELECT content FROM bronze.file_contents", unreadable, RESTRICTED)


def test_bronze_metadata_is_not_restricted():
    assert TABLES["bronze.file_contents"] == LAKE / "restricted" / "bronze" / "file_contents"
    assert TABLES["bronze.files"] == LAKE / "bronze" / "files"
    assert plan("SELECT repo_id, path, size_bytes FROM bronze.files").reads


def test_restricted_tables_answer_when_allowed():
    assert plan_fast("SELECT count(*) FROM bronze.file_contents", TABLES, {}).reads


@pytest.mark.parametrize("sql, reason", [
    ("INSERT INTO silver.files SELECT * FROM silver.files", "read-only"),
    ("DROP TABLE silver.files", "read-only"),
    ("CREATE VIEW v AS SELECT 1", "read-only"),
    ("SELECT * FROM default.raw_copy", "not a lake table"),  # a view: only Spark knows what it reads
    ("SELECT * FROM files", "not a lake table"),  # the current database is Spark's
    ("SELECT * FROM delta.`s3a://bucket/lake/silver/files`", "not on local disk"),
    ("SELECT * FROM parquet.`/lake/bronze/files/part-0.parquet`", "not a lake table"),
    ("SELECT read_parquet('/lake/bronze/files/x.parquet') AS x", "reads files"),
    ("SELECT my_udf(path) AS x FROM silver.files", "not known"),
    ("SELECT * FROM range(10)", "range"),
    ("SELECT * FROM silver.files LATERAL VIEW explode(array(1)) e AS v", "Lateral"),
    ("SELECT size_bytes + 1 FROM silver.files", "add an alias"),
    ("USE bronze", "read-only"),
])
def test_what_the_fast_path_leaves_to_spark(sql, reason):
    with pytest.raises(NotFastPathable, match=reason):
        plan(sql)


def test_translation_names_columns_as_spark_does_and_reads_versions():
    got = plan("SELECT language, count(*), avg(size_bytes), COUNT(DISTINCT repo_id), 1 FROM silver.files "
               "VERSION AS OF 2 GROUP BY language")
    assert '"count(1)"' in got.duckdb_sql and '"avg(size_bytes)"' in got.duckdb_sql
    assert '"count(DISTINCT repo_id)"' in got.duckdb_sql
    (read,) = got.reads.values()
    assert read.path == LAKE / "silver/files" and read.version == 2
    travel = plan("SELECT * FROM silver.files TIMESTAMP AS OF '2026-01-01 00:00:00' s")
    assert next(iter(travel.reads.values())).timestamp == "2026-01-01 00:00:00"
    # A CTE named like nothing in the lake is the statement's own; its sources are still resolved.
    cte = plan("WITH f AS (SELECT * FROM silver.files) SELECT count(*) AS n FROM f")
    assert [r.label for r in cte.reads.values()] == ["silver.files"]


def test_cli_start_up_does_not_import_spark():
    code = ("import sys; from codemill.cli import main, sql; from data_platform import sql_fast; "
            "print(any(m.startswith(('pyspark', 'py4j')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_to_json_only_where_the_format_is_matched():
    import pyarrow as pa

    from data_platform.sql_fast import spark_json

    schema = pa.schema([("name", pa.string()), ("at", pa.timestamp("us", tz="UTC")), ("n", pa.int64())])
    got = plan_fast("SELECT to_json(struct(*)) AS j FROM silver.files", TABLES, RESTRICTED, schema_of=lambda r: schema)
    assert "CODEMILL_SPARK_JSON" in got.duckdb_sql and "%Y-%m-%dT%H:%M:%S.%gZ" in got.duckdb_sql
    with pytest.raises(NotFastPathable, match="to_json of anything but"):
        plan("SELECT to_json(named_struct('a', path)) AS j FROM silver.files")
    floats = pa.schema([("score", pa.float64())])
    with pytest.raises(NotFastPathable, match="double"):
        plan_fast("SELECT to_json(struct(*)) AS j FROM silver.files", TABLES, RESTRICTED, schema_of=lambda r: floats)
    # Spark drops null fields (nested ones too), keeps nulls in arrays, writes no spaces.
    assert spark_json('{"a": null, "b": {"c": null, "d": 1}, "e": [null, "é"]}') == '{"b":{"d":1},"e":[null,"é"]}'


def test_server_refuses_an_open_unauthenticated_bind(tmp_path):
    from data_platform.sql_server import ServerConfigError, ServerSettings, server_conf
    from tests.conftest import make_config

    config = make_config(tmp_path / "lake")
    local = server_conf(config, ServerSettings())
    assert local["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert local["spark.sql.runSQLOnFiles"] == "false"  # no delta.`/path` around the catalog
    assert "spark.sql.runSQLOnFiles" not in server_conf(config, ServerSettings(allow_restricted=True))
    with pytest.raises(ServerConfigError, match="token"):
        server_conf(config, ServerSettings(host="0.0.0.0"))
    with pytest.raises(ServerConfigError, match="any user"):
        server_conf(config, ServerSettings(host="0.0.0.0", token="t"))
    assert server_conf(config, ServerSettings(host="0.0.0.0", token="t", thrift_port=None))[
        "spark.connect.authenticate.token"] == "t"
    ldap = make_config(tmp_path / "lake", "spark.conf={spark.hadoop.hive.server2.authentication: LDAP}")
    assert server_conf(ldap, ServerSettings(host="10.0.0.5", token="t"))["spark.hadoop.hive.server2.thrift.port"]
