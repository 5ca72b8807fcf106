"""Every lake a release made (tests/fixtures/lakes/<version>) upgrades in place to today's contracts."""

import shutil

import pytest
from deltalake import DeltaTable

from data_platform.contracts import all_contracts
from data_platform.migrations import VERSION_PROPERTY, plan_table, upgrade_with_delta_rs
from tests.fixtures.release_lake import LAKES

RELEASES = sorted(path.name for path in LAKES.iterdir() if path.is_dir())


def test_there_is_a_release_lake():
    assert RELEASES


@pytest.mark.parametrize("release", RELEASES)
def test_release_lake_upgrades_without_refusal(release, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(LAKES / release, lake)
    for name, table in all_contracts().items():
        path = lake.joinpath(*name.split("."))
        plan = plan_table(table, path)
        assert not plan.refused, plan.refusal()
        if plan.exists and plan.add:
            upgrade_with_delta_rs(table, plan)
            assert DeltaTable(str(path)).metadata().configuration[VERSION_PROPERTY] == table.version
        if plan.exists:
            assert plan_table(table, path).current
            assert set(DeltaTable(str(path)).schema().to_arrow().names) == set(table.column_names)
