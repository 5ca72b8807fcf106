"""The DuckDB fast path on an object-store lake: delta-rs reads the S3 snapshot (moto in server
mode) with the lake's storage options, DuckDB queries its Arrow dataset; time travel by version
and by timestamp; the restricted guard holds as on a local lake. No JVM here: the Spark side of
the same answers is in tests/integration/test_lake_s3.py's chain.
"""

from __future__ import annotations

import datetime as dt
import time

import pyarrow as pa
import pytest

from data_platform import storage
from data_platform.config import load_config
from data_platform.sql import RestrictedTableError
from data_platform.sql_fast import FastEngine, NotFastPathable, local_tables, run_fast_script
from tests.fixtures.s3 import moto_endpoint

pytestmark = [pytest.mark.integration]

BUCKET = "codemill-sql-fast"


@pytest.fixture(scope="module")
def s3_lake(tmp_path_factory):
    """An s3:// lake holding silver.files in three versions and one restricted table; yields
    (config, {version: rows}, a timestamp between versions 1 and 2)."""
    with moto_endpoint(tmp_path_factory.mktemp("moto"), BUCKET) as (env, _client):
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            config = load_config(overrides=[f"lake.root=s3://{BUCKET}/lake"], environ={})
            files = config.lake.table_path("silver.files")
            batches = [
                {"path": ["a.py", "b.py"], "language": ["python", "python"], "size_bytes": [10, 20]},
                {"path": ["c.rs"], "language": ["rust"], "size_bytes": [300]},
                {"path": ["d.go", "e.go", "f.go"], "language": ["go", "go", "go"], "size_bytes": [1, 2, 3]},
            ]
            between = None
            for version, batch in enumerate(batches):
                storage.write_delta(files, pa.table(batch), mode="append")
                if version == 1:
                    time.sleep(1.1)  # commit timestamps are milliseconds: leave a clear gap
                    between = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    time.sleep(1.1)
            storage.write_delta(config.lake.table_path("bronze.file_contents"),
                                pa.table({"sha": ["x"], "content": [b"secret"]}), mode="append")
            yield config, batches, between


def _answer(engine: FastEngine, query: str) -> list[dict]:
    (result,) = run_fast_script(engine, query)
    return result.table.to_pylist()


def test_fast_path_reads_s3_snapshots_and_travels_in_time(s3_lake):
    config, batches, between = s3_lake
    tables, restricted = local_tables(config)
    assert set(tables) == {"silver.files", "bronze.file_contents"}
    assert all(isinstance(path, storage.LakeURI) for path in tables.values())
    engine = FastEngine(tables, restricted)
    sizes = [sum(batch["size_bytes"]) for batch in batches]
    assert _answer(engine, "SELECT count(*) AS n, sum(size_bytes) AS bytes FROM silver.files") == [
        {"n": 6, "bytes": sum(sizes)}]
    for version in range(3):
        rows = sum(len(batch["path"]) for batch in batches[: version + 1])
        assert _answer(engine, f"SELECT count(*) AS n FROM silver.files VERSION AS OF {version}") == [{"n": rows}]
    assert _answer(engine, f"SELECT count(*) AS n FROM silver.files TIMESTAMP AS OF '{between}'") == [{"n": 3}]
    # A join of two versions of the same table, grouped: each reference is its own snapshot.
    joined = _answer(engine, "SELECT f.language, count(*) AS n FROM silver.files f JOIN silver.files VERSION AS OF 1 o "
                             "ON f.path = o.path GROUP BY f.language ORDER BY f.language")
    assert joined == [{"language": "python", "n": 2}, {"language": "rust", "n": 1}]


def test_restricted_guard_holds_on_s3(s3_lake):
    config, _, _ = s3_lake
    tables, restricted = local_tables(config)
    guarded = FastEngine(tables, restricted)
    for query in ("SELECT count(*) FROM bronze.file_contents",
                  "SELECT count(*) FROM (SELECT * FROM spark_catalog.BRONZE.file_contents VERSION AS OF 0) t"):
        with pytest.raises(RestrictedTableError, match="bronze.file_contents is restricted"):
            run_fast_script(guarded, query)
    # A path into the lake's restricted prefix is not resolved here: it goes to Spark, whose plan check applies.
    with pytest.raises(NotFastPathable, match="not on local disk"):
        run_fast_script(guarded, f"SELECT count(*) FROM delta.`{config.lake.restricted_root}/bronze/file_contents`")
    assert _answer(FastEngine(tables, None), "SELECT count(*) AS n FROM bronze.file_contents") == [{"n": 1}]
