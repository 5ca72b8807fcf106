"""The rules behind deletions and crash recovery, as plain functions (no Spark).

- which paths of a re-crawled snapshot stay (present, or unreadable for now) and which go;
- when gold is behind silver (a run died between them) and when the gate never ran;
- the test hook that kills the process at a named boundary.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from data_platform.freshness import built_from_metadata, gold_staleness, unvalidated_gold_version
from data_platform.ingest import errors as E
from data_platform.ingest.finish import QualityGate, Refine
from data_platform.ingest.prune import prunable_snapshots, snapshot_of
from data_platform.ingest.run import RunContext
from data_platform.ingest.sources import Entry, Listing, SourceInfo
from data_platform.ops.crashpoints import BOUNDARIES, ENV_VAR, crash_point
from tests.conftest import make_config
from tests.fixtures.train import corpus_rows, publish


def _listing(paths, errors=(), per_row=False) -> Listing:
    info = SourceInfo("spec", "git", "/x", "repo-1", "/x", "x", "c1")
    return Listing(info, [Entry(p, p) for p in paths], [E.IngestError("spec", p, "crawl", k, "") for p, k in errors],
                   per_row_repos=per_row)


def test_a_snapshot_keeps_present_and_temporarily_unreadable_paths():
    snapshot = snapshot_of(_listing(
        ["a.py", "pkg/b.py"],
        [("c.py", E.MISSING_OBJECT), ("d.py", E.UNREADABLE), ("big.bin", E.TOO_LARGE), ("link", E.SYMLINK),
         ("vendor/", E.MISSING_OBJECT)]))
    assert snapshot.paths == {"a.py", "pkg/b.py", "c.py", "d.py"}  # too large or a link now: no longer kept
    assert snapshot.kept_prefixes == ["vendor/"]


def test_unlistable_roots_and_datasets_are_never_pruned():
    root_unreadable = _listing(["a.py"], [("", E.UNREADABLE)])
    dataset = _listing([""], per_row=True)
    fine = _listing(["a.py"])
    assert [s.paths for s in prunable_snapshots([root_unreadable, dataset, fine])] == [{"a.py"}]


def test_docs_trees_and_dumps_are_pruned_by_the_records_their_crawl_read():
    listing = _listing(["Posts.xml"])
    listing.info.kind = "stackexchange"  # a dump: its threads are not its listing's entries
    pages = _listing(["index.html"])
    pages.info.kind = "docs"
    assert [s.records for s in prunable_snapshots([listing, pages, _listing(["a.py"])])] == [True, True, False]


def _write_delta(path, rows: list[dict], metadata: str | None = None):
    import pyarrow as pa
    from deltalake import CommitProperties, write_deltalake

    props = CommitProperties(custom_metadata={"userMetadata": metadata}) if metadata else None
    write_deltalake(str(path), pa.Table.from_pylist(rows), mode="append", commit_properties=props)


def test_gold_is_stale_when_silver_moved_past_the_version_it_was_built_from(tmp_path):
    config = make_config(tmp_path / "lake")
    silver, gold = config.lake.table_path("silver.files"), config.lake.table_path("gold.training_corpus")
    assert gold_staleness(config) is None  # empty lake: nothing to do
    _write_delta(silver, [{"file_id": "a"}])  # silver v0
    _write_delta(silver, [{"file_id": "b"}])  # silver v1: curated, gold never written
    assert "never written" in gold_staleness(config)
    _write_delta(gold, [{"doc_id": "a"}], built_from_metadata(1))
    assert gold_staleness(config) is None
    _write_delta(silver, [{"file_id": "c"}])  # a run died after writing silver
    assert "built from silver.files v1, which is now at v2" in gold_staleness(config)


def test_the_latest_gold_version_without_a_quality_result_is_unvalidated(tmp_path):
    config = make_config(tmp_path / "lake")
    gold = config.lake.table_path("gold.training_corpus")
    assert unvalidated_gold_version(config) is None
    _write_delta(gold, corpus_rows()[:2], built_from_metadata(1))
    assert unvalidated_gold_version(config) == 0
    publish(config, 0)
    assert unvalidated_gold_version(config) is None
    _write_delta(gold, corpus_rows()[2:4], built_from_metadata(2))
    assert unvalidated_gold_version(config) == 1
    publish(config, 1, success=False)  # a failed gate is a result too: nothing to redo
    assert unvalidated_gold_version(config) is None


def test_refine_reasons_in_order(tmp_path):
    config = make_config(tmp_path / "lake")
    ctx = RunContext(None, config, "r", [], dt.datetime.now(dt.UTC), echo=lambda line: None)
    assert Refine()._reason(ctx) is None
    assert Refine(force=True)._reason(ctx).startswith("forced")
    ctx.counts["prune.deleted_files"] = 2
    assert "removed" in Refine()._reason(ctx)
    ctx.counts["curate.files"] = 3
    assert Refine()._reason(ctx) == "3 new or changed files"


def test_gate_is_skipped_when_gold_is_gated_without_spark(tmp_path):
    config = make_config(tmp_path / "lake")
    _write_delta(config.lake.table_path("gold.training_corpus"), corpus_rows()[:2], built_from_metadata(1))
    publish(config, 0)
    ctx = RunContext(None, config, "r", [], dt.datetime.now(dt.UTC), echo=lambda line: None)
    QualityGate().run(ctx)  # spark is None: any validation would fail
    assert not ctx.state.gate_failed


@pytest.mark.parametrize("boundary", ["gate", "after_bronze"])
def test_crash_point_kills_only_at_its_boundary(boundary):
    code = ("import sys; from data_platform.ops.crashpoints import crash_point\n"
            "crash_point('after_functions'); print('passed after_functions', flush=True)\n"
            f"crash_point({boundary!r}); print('survived')\n")
    done = subprocess.run([sys.executable, "-c", code], env={ENV_VAR: boundary, "PYTHONPATH": "."},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -9 and "passed after_functions" in done.stdout and "survived" not in done.stdout
    assert "killing process" in done.stdout and boundary in BOUNDARIES
    with pytest.raises(ValueError):
        crash_point("no-such-boundary")
