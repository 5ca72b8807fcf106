"""The stages appended after curation: when they run, and how a failed gate fails the run."""

import datetime as dt

from data_platform.ingest.finish import QualityGate, Refine, pipeline_stages
from data_platform.ingest.run import FAILED, SUCCEEDED, RunContext, _final_status
from tests.conftest import make_config


def _context(tmp_path, **counts):
    ctx = RunContext(spark=None, config=make_config(tmp_path), run_id="r", sources=["/src"],
                     started_at=dt.datetime.now(dt.UTC), echo=lambda line: None)
    ctx.counts.update(counts)
    return ctx


def test_unchanged_sources_skip_refine_and_gate_without_touching_spark(tmp_path):
    ctx = _context(tmp_path, **{"curate.files": 0})
    Refine().run(ctx)  # spark is None: any Spark call would raise
    QualityGate().run(ctx)
    assert ctx.state.refined is False and not ctx.table_versions
    assert _final_status(ctx) == SUCCEEDED


def test_a_failed_gate_fails_the_run(tmp_path):
    ctx = _context(tmp_path)
    assert _final_status(ctx) == SUCCEEDED
    ctx.state.gate_failed = True
    assert _final_status(ctx) == FAILED


def test_pipeline_orders_refine_and_gate_after_curation_before_snapshots():
    names = [stage.name for stage in pipeline_stages()]
    assert names.index("curate") < names.index("refine") < names.index("quality") < names.index("snapshots")
