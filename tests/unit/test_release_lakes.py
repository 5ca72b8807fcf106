"""Every lake a release made (tests/fixtures/lakes/<version>) upgrades in place to today's contracts.

Layout steps come first (data_platform.lake_moves: a restricted table moved under
``restricted/``, raw content split out of bronze.files); they are checked here by what they
would do (no Spark), and carried out on a copy of the lake with rows in
tests/integration/test_lake_restricted_split.py.
"""

import shutil

import pytest
from deltalake import DeltaTable

from data_platform.contracts import all_contracts
from data_platform.lake_moves import SPLIT_COLUMN, pending_moves
from data_platform.migrations import VERSION_PROPERTY, plan_table, upgrade_with_delta_rs
from tests.conftest import make_config
from tests.fixtures.release_lake import LAKES

RELEASES = sorted(path.name for path in LAKES.iterdir() if path.is_dir())


def test_there_is_a_release_lake():
    assert RELEASES


@pytest.mark.parametrize("release", RELEASES)
def test_release_lake_upgrades_without_refusal(release, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(LAKES / release, lake)
    moves = {move.table: move for move in pending_moves(make_config(lake))}
    for name, table in all_contracts().items():
        move = moves.get(name)
        path = move.source if move else lake.joinpath(*name.split("."))
        if move and move.kind == "split":
            # The split rewrites the table as the contract has it, less the column it moves out.
            stored = set(DeltaTable(str(path)).schema().to_arrow().names)
            assert stored - {SPLIT_COLUMN} == set(table.column_names)
            continue
        plan = plan_table(table, path)
        assert not plan.refused, plan.refusal()
        if plan.exists and plan.add:
            upgrade_with_delta_rs(table, plan)
            assert DeltaTable(str(path)).metadata().configuration[VERSION_PROPERTY] == table.version
        if plan.exists:
            assert plan_table(table, path).current
            assert set(DeltaTable(str(path)).schema().to_arrow().names) == set(table.column_names)


def test_release_0_1_0_needs_the_restricted_layout_steps(tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(LAKES / "0.1.0", lake)
    moves = {(move.table, move.kind): move for move in pending_moves(make_config(lake))}
    assert set(moves) == {("gold.quarantine", "relocate"), ("bronze.files", "split")}
    assert moves[("gold.quarantine", "relocate")].target == lake / "restricted" / "gold" / "quarantine"
    assert moves[("bronze.files", "split")].target == lake / "restricted" / "bronze" / "file_contents"
