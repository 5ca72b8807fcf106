"""`codemill sql-server` started as a user starts it, queried by real clients.

Spark Connect through pyspark's own client (bearer token), JDBC through the Hive JDBC driver
and beeline that ship in the pyspark wheel. Restricted tables and path queries stay out.
The lake is written by delta-rs, so the server's JVM is the only one this file starts.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from data_platform.contracts import contract

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TOKEN = "t0ken-for-this-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write(lake: Path, name: str, rows: list[dict]) -> Path:
    schema = contract(name).arrow_schema()
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    path = lake / name.replace(".", "/")
    write_deltalake(str(path), pa.table(columns, schema=schema.with_metadata(None)))
    return path


def _rows(name: str, count: int) -> list[dict]:
    """Rows with every required column set to a plain value of its type."""
    now = dt.datetime.now(dt.UTC)
    filler = {pa.string(): "x", pa.int64(): 1, pa.int32(): 1, pa.float64(): 0.5, pa.bool_(): False,
              pa.binary(): b"secret-bytes", pa.timestamp("us", tz="UTC"): now}
    fields = [f for f in contract(name).arrow_schema() if not f.nullable]
    return [dict({f.name: filler.get(f.type) for f in fields}, path=f"src/m{i}.py") for i in range(count)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    lake = tmp_path_factory.mktemp("sql-server") / "lake"
    _write(lake, "silver.files", _rows("silver.files", 3))
    bronze_path = _write(lake, "bronze.files", _rows("bronze.files", 2))
    connect_port, thrift_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CODEMILL_LAKE"}
    env["CODEMILL_SQL_SERVER_TOKEN"] = TOKEN
    process = subprocess.Popen(
        [sys.executable, "-m", "codemill.cli.main", "sql-server", "--connect-port", str(connect_port),
         "--thrift-port", str(thrift_port), f"lake.root={lake}", "spark.master=local[1]"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in process.stdout:
            lines.append(line)
            if line.startswith("tables:"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(600):
        process.kill()
        pytest.fail("sql-server did not get ready:\n" + "".join(lines[-30:]))
    yield {"connect": connect_port, "thrift": thrift_port, "lines": lines, "bronze": bronze_path}
    process.terminate()
    process.wait(timeout=120)


def test_spark_connect_client_sees_the_lake_but_not_restricted_tables(server):
    from pyspark.sql import SparkSession

    assert any("silver.files" in line and "bronze.files" not in line for line in server["lines"]
               if line.startswith("tables:"))
    client = SparkSession.builder.remote(f"sc://localhost:{server['connect']}/;token={TOKEN}").getOrCreate()
    try:
        assert client.sql("SELECT count(*) AS n FROM silver.files").collect()[0]["n"] == 3
        assert client.catalog.tableExists("silver.files") and not client.catalog.tableExists("bronze.files")
        for statement in ("SELECT * FROM bronze.files", f"SELECT * FROM delta.`{server['bronze']}`"):
            with pytest.raises(Exception, match="(?i)not found|cannot be found|runSQLOnFiles|UNSUPPORTED|TABLE_OR_VIEW"):
                client.sql(statement).collect()
    finally:
        client.stop()


def test_connect_refuses_a_wrong_token(server):
    from pyspark.sql import SparkSession

    with pytest.raises(Exception, match="(?i)unauthenticated|token|permission"):
        SparkSession.builder.remote(f"sc://localhost:{server['connect']}/;token=wrong").getOrCreate().sql(
            "SELECT 1").collect()


def test_jdbc_client_queries_over_thrift(server):
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    url = f"jdbc:hive2://127.0.0.1:{server['thrift']}/default"

    def beeline(statement: str) -> subprocess.CompletedProcess:
        return subprocess.run(["java", "-cp", f"{jars}/*", "org.apache.hive.beeline.BeeLine", "-u", url, "-n", "analyst",
                               "--outputformat=csv2", "--silent=true", "-e", statement],
                              capture_output=True, text=True, timeout=180)

    done = beeline("SELECT count(*) AS n FROM silver.files")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "3"
    refused = beeline("SELECT count(*) FROM bronze.files")
    assert refused.returncode != 0 and "TABLE_OR_VIEW_NOT_FOUND" in refused.stdout + refused.stderr
