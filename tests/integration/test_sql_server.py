"""`codemill sql-server` started as a user starts it, queried by real clients.

Spark Connect through pyspark's own client (bearer token), JDBC through the Hive JDBC driver
and beeline that ship in the pyspark wheel. Restricted tables and path queries stay out.
The lake is written by delta-rs, so the server's JVM is the only one this file starts.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from data_platform.config import LakeSettings
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
    path = LakeSettings(root=lake).table_path(name)  # restricted tables under <lake>/restricted/
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
    contents_path = _write(lake, "bronze.file_contents", _rows("bronze.file_contents", 2))
    connect_port, thrift_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CODEMILL_LAKE"}
    env["CODEMILL_SQL_SERVER_TOKEN"] = TOKEN
    process = subprocess.Popen(
        [sys.executable, "-m", "codemill.cli.main", "sql-server", "--connect-port", str(connect_port),
         "--thrift-port", str(thrift_port), "--refresh-seconds", "1", f"lake.root={lake}", "spark.master=local[1]"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    ready, named = threading.Event(), threading.Event()

    def read():
        for line in process.stdout:
            lines.append(line)
            if line.startswith("tables:"):
                ready.set()
            if line.startswith("tables named:") and "bronze.files" in line:
                named.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(600):
        process.kill()
        pytest.fail("sql-server did not get ready:\n" + "".join(lines[-30:]))
    # A table first written after the server started is named without a restart.
    _write(lake, "bronze.files", _rows("bronze.files", 2))
    if not named.wait(120):
        process.kill()
        pytest.fail("sql-server did not name bronze.files written after its start:\n" + "".join(lines[-30:]))
    yield {"connect": connect_port, "thrift": thrift_port, "lines": lines, "contents": contents_path}
    process.terminate()
    process.wait(timeout=120)


# The Spark Connect client runs in its own process, as a user's would: pyspark refuses a remote
# session in a process that already holds a regular one (the shared test session).
_CONNECT_CLIENT = """
import json, sys
from pyspark.sql import SparkSession

url, statements = sys.argv[1], sys.argv[2:]
client = SparkSession.builder.remote(url).getOrCreate()
out = {"exists": {t: client.catalog.tableExists(t) for t in ("silver.files", "bronze.files", "bronze.file_contents")},
       "results": []}
for statement in statements:
    try:
        out["results"].append({"rows": [list(r) for r in client.sql(statement).collect()]})
    except Exception as err:
        out["results"].append({"error": f"{type(err).__name__}: {err}"})
client.stop()
print(json.dumps(out))
"""


def _connect(port: int, token: str, *statements: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _CONNECT_CLIENT, f"sc://localhost:{port}/;token={token}",
                           *statements], capture_output=True, text=True, timeout=300)


def test_spark_connect_client_sees_the_lake_but_not_restricted_tables(server):
    import json

    assert any("silver.files" in line and "bronze.file_contents" not in line for line in server["lines"]
               if line.startswith("tables:"))
    done = _connect(server["connect"], TOKEN, "SELECT count(*) AS n FROM silver.files",
                    "SELECT count(*) AS n FROM bronze.files", "SELECT * FROM bronze.file_contents",
                    f"SELECT * FROM delta.`{server['contents']}`")
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["exists"] == {"silver.files": True, "bronze.files": True, "bronze.file_contents": False}
    count, metadata, *refused = out["results"]
    assert count == {"rows": [[3]]} and metadata == {"rows": [[2]]}  # bronze.files: named after the start
    for result in refused:
        assert re.search("(?i)not found|cannot be found|runSQLOnFiles|UNSUPPORTED|TABLE_OR_VIEW", result["error"])


def test_connect_refuses_a_wrong_token(server):
    done = _connect(server["connect"], "wrong", "SELECT 1")
    assert done.returncode != 0 or '"rows": [[1]]' not in done.stdout
    assert re.search("(?i)unauthenticated|token|permission", done.stdout + done.stderr)


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
    refused = beeline("SELECT count(*) FROM bronze.file_contents")
    assert refused.returncode != 0 and "TABLE_OR_VIEW_NOT_FOUND" in refused.stdout + refused.stderr
