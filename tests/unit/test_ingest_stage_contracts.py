"""Each ingest stage's declared inputs and outputs (``reads``/``writes``) are what its code does.

The declarations are the stages' signatures: what a stage takes from earlier ones and leaves
for later ones. This test reads every stage class's source and compares the ``ctx.state.X``
fields it reads and assigns with what it declares, so a declaration cannot drift from the code.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import fields

import pytest

from data_platform.ingest import finish, stages
from data_platform.ingest.context import (
    RunContext,
    StageOrderError,
    StageOutputs,
    check_stage_order,
    run_stage,
)

STAGE_CLASSES = [stages.ListSources, stages.CrawlFiles, stages.PruneFiles, stages.CurateFiles,
                 stages.RecordSnapshots, finish.Refine, finish.QualityGate]


def _state_access(obj) -> tuple[set[str], set[str]]:
    """(fields read, fields assigned) through ``ctx.state.<field>`` in a class's methods, and in
    the module's own functions those methods call (helpers such as ``stages.unseen``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    module = inspect.getmodule(obj)
    read, written = set(), set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "state"):
            (written if isinstance(node.ctx, ast.Store) else read).add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = getattr(module, node.func.id, None)
            if inspect.isfunction(helper) and helper.__module__ == module.__name__ and helper is not obj:
                more_read, more_written = _state_access(helper)
                read |= more_read
                written |= more_written
    return read, written


@pytest.mark.parametrize("cls", STAGE_CLASSES, ids=lambda c: c.__name__)
def test_declared_reads_and_writes_match_the_code(cls):
    read, written = _state_access(cls)
    known = {f.name for f in fields(StageOutputs)}
    assert set(cls.reads) | set(cls.writes) <= known
    assert written == set(cls.writes)
    assert read - written == set(cls.reads) - written  # reading its own output is not an input


@pytest.mark.parametrize("curate_only", [True, False])
@pytest.mark.parametrize("prune_missing", [True, False])
def test_every_pipeline_the_cli_runs_is_in_a_valid_order(curate_only, prune_missing):
    check_stage_order(finish.ingest_stages(curate_only=curate_only, prune_missing=prune_missing))


def test_a_stage_reading_what_nothing_wrote_is_refused_before_the_run():
    with pytest.raises(StageOrderError, match="stage quality reads refined"):
        check_stage_order([stages.ListSources(), finish.QualityGate()])


def test_a_stage_setting_an_undeclared_output_is_stopped():
    class Sneaky:
        name, reads, writes = "sneaky", (), ("crawled",)

        def run(self, ctx):
            ctx.state.crawled = object()
            ctx.state.refined = True

    ctx = RunContext(None, None, "r", [], None)
    with pytest.raises(StageOrderError, match="stage sneaky set refined without declaring it"):
        run_stage(Sneaky(), ctx)
