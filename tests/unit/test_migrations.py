"""Planning and applying in-place upgrades on real Delta tables written by delta-rs (no Spark)."""

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from data_platform.contracts import contract
from data_platform.migrations import (
    VERSION_PROPERTY,
    MigrationRefused,
    delta_type_name,
    plan_table,
    upgrade_with_delta_rs,
)
from data_platform.ops.records import rows_to_arrow

EVAL = "ops.eval_results"
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _rows():
    return rows_to_arrow(EVAL, [{"eval_id": "e0", "model_path": "/m", "benchmark": "heldout", "metric": "loss",
                                 "language": "all", "value": 1.0, "num_samples": 3, "evaluated_at": NOW}])


def test_delta_log_types_read_in_contract_spelling():
    assert delta_type_name("long") == "bigint" and delta_type_name("integer") == "int"
    nested = {"type": "map", "keyType": "string", "valueType": {"type": "array", "elementType": "long"}}
    assert delta_type_name(nested) == "map<string,array<bigint>>"


def test_plan_of_a_missing_table_is_create(tmp_path):
    plan = plan_table(contract(EVAL), tmp_path / "absent")
    assert not plan.exists and plan.changes() == ["create table"] and not plan.current


def test_every_contract_type_round_trips_through_a_delta_table(tmp_path):
    """A table written with the contract's own Arrow schema plans as current (types compare equal)."""
    from data_platform.contracts import all_contracts

    for name, table in all_contracts().items():
        path = tmp_path / name
        write_deltalake(str(path), table.arrow_schema().empty_table(), mode="append")
        plan = plan_table(table, path)
        assert plan.current and not plan.refused, (name, plan.refused)


def test_old_table_gains_the_column_and_records_the_version(tmp_path):
    path = str(tmp_path / "eval")
    write_deltalake(path, _rows().drop_columns(["task_type"]), mode="append")
    plan = plan_table(contract(EVAL), path)
    assert [c.name for c in plan.add] == ["task_type"] and not plan.current
    assert DeltaTable(path).version() == 0  # planning writes nothing

    upgrade_with_delta_rs(contract(EVAL), plan)
    table = DeltaTable(path)
    assert "task_type" in table.schema().to_arrow().names
    assert table.metadata().configuration[VERSION_PROPERTY] == contract(EVAL).version
    assert pa.table(table.to_pyarrow_table()).column("task_type").to_pylist() == [None]
    assert plan_table(contract(EVAL), path).current


def test_required_new_column_and_dropped_column_are_refused(tmp_path):
    path = str(tmp_path / "eval")
    old = _rows().drop_columns(["metric"]).append_column("legacy", pa.array(["x"]))
    write_deltalake(path, old, mode="append")
    plan = plan_table(contract(EVAL), path)
    assert any("'metric' is required" in r for r in plan.refused)
    assert any("'legacy' is in the table but not in the contract" in r for r in plan.refused)
    with pytest.raises(MigrationRefused, match="Nothing was changed"):
        upgrade_with_delta_rs(contract(EVAL), plan)
    assert DeltaTable(path).version() == 0
