"""Write and read ``ops.*`` rows without Spark, through delta-rs.

Training, evaluation and serving run on Ray workers and plain Python processes that never
start a JVM; they still record runs in the same contract tables the Spark jobs use. Rows are
checked against the table's contract in ``schemas/`` (an unknown column is an error), and a
table an earlier release wrote is upgraded in place before the first write of a process
(:mod:`data_platform.migrations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from data_platform import lake_lock
from data_platform.config import PlatformConfig
from data_platform.contracts import contract
from data_platform.migrations import plan_table, upgrade_with_delta_rs

# Tables this process has created or checked against their contract: (path, contract version).
_CURRENT: set[tuple[str, str]] = set()


def rows_to_arrow(table_name: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Build an Arrow table in contract column order; unknown keys are an error."""
    table = contract(table_name)
    table.check_columns(sorted({key for row in rows for key in row}))
    schema = table.arrow_schema()
    columns = {name: [row.get(name) for row in rows] for name in table.column_names}
    return pa.Table.from_pydict(columns, schema=schema)


def prepare_table(table_name: str, path: str) -> bool:
    """Upgrade the table in place if an earlier release wrote it; False when it does not exist yet."""
    table = contract(table_name)
    if (path, table.version) in _CURRENT:
        return True
    plan = plan_table(table, path)
    if plan.exists:
        upgrade_with_delta_rs(table, plan)
        _CURRENT.add((path, table.version))
    return plan.exists


def append_rows(config: PlatformConfig, table_name: str, rows: Sequence[dict[str, Any]]) -> int:
    """Append rows to a contract table (created on first use); returns the new version."""
    from data_platform.storage import delta_table, write_delta

    path = config.lake.table_path(table_name)
    data = rows_to_arrow(table_name, rows)
    lake_lock.hold(config, table_name)
    # A table delta-rs creates carries no contract version: delta-rs refuses table properties
    # it does not know at creation, and recording it later would cost every first write a
    # second commit. Its check compares the schema instead (one metadata read per process).
    prepare_table(table_name, str(path))
    write_delta(str(path), data, mode="append")
    return delta_table(str(path)).version()


def upsert_rows(
    config: PlatformConfig, table_name: str, rows: Sequence[dict[str, Any]], keys: Sequence[str] = ("run_id",)
) -> int:
    """Insert rows, or update those whose ``keys`` match (a run row moving running → succeeded).

    The table is created on first use. Returns the new Delta version.
    """
    from deltalake.exceptions import TableNotFoundError

    from data_platform.storage import delta_table

    path = str(config.lake.table_path(table_name))
    lake_lock.hold(config, table_name)
    if not prepare_table(table_name, path):
        return append_rows(config, table_name, rows)
    try:
        table = delta_table(path)
    except TableNotFoundError:  # removed since it was checked
        return append_rows(config, table_name, rows)
    predicate = " AND ".join(f"target.{key} = source.{key}" for key in keys)
    (
        table.merge(rows_to_arrow(table_name, rows), predicate=predicate, source_alias="source",
                    target_alias="target")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return delta_table(path).version()


def read_rows(config: PlatformConfig, table_name: str) -> list[dict[str, Any]]:
    """Read a (small) ops table as dicts; an absent table reads as empty."""
    from deltalake.exceptions import TableNotFoundError

    from data_platform.storage import delta_table

    path = config.lake.table_path(table_name)
    try:
        table = delta_table(str(path))
    except TableNotFoundError:
        return []
    return table.to_pyarrow_table().to_pylist()
