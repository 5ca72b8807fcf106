"""Run bookkeeping without Spark: final status, summary text, stage list."""

from __future__ import annotations

import datetime as dt

from data_platform.ingest.run import (
    FAILED,
    PARTIAL,
    SUCCEEDED,
    IngestSummary,
    RunContext,
    _final_status,
    default_stages,
)
from serving.config import load_config


def _ctx(sources: list[str], failed: set[str]) -> RunContext:
    ctx = RunContext(None, load_config(environ={}), "r", sources, dt.datetime.now(dt.UTC))
    for source in failed:
        ctx.source_failed(source, "missing_path", "gone")
    return ctx


def test_status_is_failed_only_when_every_source_failed():
    assert _final_status(_ctx(["a", "b"], set())) == SUCCEEDED
    assert _final_status(_ctx(["a", "b"], {"a"})) == PARTIAL
    assert _final_status(_ctx(["a", "b"], {"a", "b"})) == FAILED
    ctx = _ctx(["a"], {"a"})
    assert [(e.source, e.path, e.kind) for e in ctx.driver_errors] == [("a", "", "missing_path")]


def test_summary_lines_and_exit_code():
    summary = IngestSummary("r1", PARTIAL, ["a", "b"], ["b"], {"crawl.files": 1200}, {"crawl": 3.25},
                            {"bronze.files": 4}, 3, {"binary": 2, "missing_path": 1})
    text = "\n".join(summary.lines())
    assert "run r1: partial; 1/2 sources read; 3 errors recorded" in text
    assert "1,200" in text and "binary 2, missing_path 1" in text and "bronze.files@v4" in text
    assert summary.exit_code == 0
    assert IngestSummary("r2", FAILED, ["a"], ["a"], {}, {}, {}, 1, {}).exit_code == 1


def test_default_stages_are_ordered_and_named():
    assert [stage.name for stage in default_stages()] == ["list", "crawl", "prune", "curate", "snapshots"]
