"""A 0.1.0 lake with rows upgrades in place to the restricted layout without losing a row (real Spark + Delta).

Release 0.1.0 kept raw ``content`` in bronze.files and gold.quarantine at ``<lake>/gold/quarantine``.
`codemill tables migrate` must copy the content into bronze.file_contents under
``<lake>/restricted/``, rewrite bronze.files without it (older versions vacuumed: they hold the
bytes in an unrestricted directory) and move gold.quarantine under the prefix; row counts and
content hashes are the same before and after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from codemill.cli.main import main as codemill_main
from data_platform.ingest.curate import file_id_for
from data_platform.lake_moves import pending_moves
from tests.conftest import make_config
from tests.fixtures.release_lake import LAKES

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
FILES = [(f"repo-{i % 3}", f"src/m{i}.py", (f"secret_{i} = 'AKIA{i:016d}'\n" * (i + 1)).encode()) for i in range(7)]
FILES.append(("repo-0", "empty.py", b""))


def _bronze_row(repo_id: str, path: str, content: bytes) -> dict:
    return {"repo_id": repo_id, "repo_url": f"/src/{repo_id}", "commit_sha": "c0ffee", "path": path,
            "content": content, "size_bytes": len(content), "blob_sha": hashlib.sha1(content).hexdigest(),
            "run_id": "old-run", "crawled_at": NOW}


def _quarantine_row(i: int) -> dict:
    return {"doc_id": f"d{i}", "repo_id": "repo-1", "repo_url": "/src/repo-1", "commit_sha": "c0ffee",
            "path": f"src/m{i}.py", "language": "python", "split": "train", "text": f"password = 'p{i}'",
            "source_version": 3, "clean_version": 4, "expectation": "no_pii_left", "reason": "password",
            "result_id": "r1", "run_id": None, "quarantined_at": NOW}


def _append(spark, path, rows) -> None:
    schema = spark.read.format("delta").load(str(path)).schema  # the table's own (0.1.0) schema
    spark.createDataFrame(rows, schema).write.format("delta").mode("append").save(str(path))


def _rows(path, version=None) -> list[dict]:
    return DeltaTable(str(path), version=version).to_pyarrow_table().to_pylist()


def _digest(rows, column: str) -> dict[tuple[str, str], str]:
    return {(r["repo_id"], r["path"]): hashlib.sha256(r[column] if isinstance(r[column], bytes)
                                                      else r[column].encode()).hexdigest() for r in rows}


@pytest.fixture()
def old_lake(spark, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(LAKES / "0.1.0", lake)
    _append(spark, lake / "bronze" / "files", [_bronze_row(*f) for f in FILES])
    _append(spark, lake / "gold" / "quarantine", [_quarantine_row(i) for i in range(3)])
    return make_config(lake)


def cli(*args) -> int:
    with pytest.raises(SystemExit) as done:
        codemill_main(list(args))
    return done.value.code


def test_migrate_splits_content_out_and_moves_quarantine_without_losing_a_row(spark, old_lake, capsys):
    config, lake = old_lake, old_lake.lake
    files_path, old_quarantine = lake.table_path("bronze.files"), lake.legacy_table_path("gold.quarantine")
    before_files, before_quarantine = _rows(files_path), _rows(old_quarantine)
    content_digest, text_digest = _digest(before_files, "content"), _digest(before_quarantine, "text")
    version_with_content = DeltaTable(str(files_path)).version()
    args = [f"lake.root={lake.root}", "spark.master=local[2]", "spark.shuffle_partitions=2"]

    assert cli("tables", "migrate", "--dry-run", *args) == 0
    out = capsys.readouterr().out
    assert "would copy column content into bronze.file_contents" in out and "would move table" in out
    assert "refused:" not in out and ", 0 refused" in out
    assert DeltaTable(str(files_path)).version() == version_with_content and old_quarantine.exists()

    # A run killed after copying part of the content (bronze.files untouched): the rerun redoes it all.
    partial = spark.createDataFrame([{k: v for k, v in _bronze_row(*FILES[0]).items() if k in
                                      ("repo_id", "path", "blob_sha", "content", "run_id", "crawled_at")}])
    partial.withColumn("file_id", partial.repo_id).write.format("delta").save(str(lake.table_path(
        "bronze.file_contents")))

    assert cli("tables", "migrate", *args) == 0
    capsys.readouterr()
    assert pending_moves(config) == []
    contents_path = lake.table_path("bronze.file_contents")
    assert contents_path.is_relative_to(lake.restricted_root) and not files_path.is_relative_to(lake.restricted_root)
    files, contents = _rows(files_path), _rows(contents_path)
    assert len(files) == len(before_files) == len(contents) == len(FILES)
    assert "content" not in DeltaTable(str(files_path)).schema().to_arrow().names
    assert _digest(contents, "content") == content_digest
    assert {(r["repo_id"], r["path"], r["blob_sha"]) for r in files} == {
        (r["repo_id"], r["path"], r["blob_sha"]) for r in before_files}
    assert all(r["file_id"] == file_id_for(r["repo_id"], r["path"]) for r in contents)

    # The raw bytes are nowhere under the unrestricted directory any more, not even for time travel.
    assert all("content" not in pq.read_schema(f).names for f in files_path.rglob("*.parquet"))
    with pytest.raises(Exception):  # noqa: B017 - delta-rs raises its own error for vacuumed files
        _rows(files_path, version_with_content)

    new_quarantine = lake.table_path("gold.quarantine")
    assert new_quarantine == lake.restricted_root / "gold" / "quarantine" and not old_quarantine.exists()
    assert _digest(_rows(new_quarantine), "text") == text_digest
    assert len(DeltaTable(str(new_quarantine)).history()) >= 2  # its history moved with it

    assert cli("tables", "migrate", *args) == 0  # nothing left to do
    assert "would" not in capsys.readouterr().out and pending_moves(config) == []
    assert len(_rows(contents_path)) == len(FILES)
