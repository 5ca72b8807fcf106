"""Write and read ``ops.*`` rows without Spark, through delta-rs.

Training, evaluation and serving run on Ray workers and plain Python processes that never
start a JVM; they still record runs in the same contract tables the Spark jobs use. Rows are
checked against the table's contract in ``schemas/`` (an unknown column is an error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from data_platform.config import PlatformConfig
from data_platform.contracts import contract


def rows_to_arrow(table_name: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Build an Arrow table in contract column order; unknown keys are an error."""
    table = contract(table_name)
    unknown = {key for row in rows for key in row} - set(table.column_names)
    if unknown:
        raise ValueError(f"{table_name} has no columns {sorted(unknown)}")
    schema = table.arrow_schema()
    columns = {name: [row.get(name) for row in rows] for name in table.column_names}
    return pa.Table.from_pydict(columns, schema=schema)


def append_rows(config: PlatformConfig, table_name: str, rows: Sequence[dict[str, Any]]) -> int:
    """Append rows to a contract table (created on first use); returns the new version."""
    from deltalake import DeltaTable, write_deltalake

    path = config.lake.table_path(table_name)
    data = rows_to_arrow(table_name, rows)
    write_deltalake(str(path), data, mode="append")
    return DeltaTable(str(path)).version()


def upsert_rows(
    config: PlatformConfig, table_name: str, rows: Sequence[dict[str, Any]], keys: Sequence[str] = ("run_id",)
) -> int:
    """Insert rows, or update those whose ``keys`` match (a run row moving running → succeeded).

    The table is created on first use. Returns the new Delta version.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = str(config.lake.table_path(table_name))
    try:
        table = DeltaTable(path)
    except TableNotFoundError:
        return append_rows(config, table_name, rows)
    predicate = " AND ".join(f"target.{key} = source.{key}" for key in keys)
    (
        table.merge(rows_to_arrow(table_name, rows), predicate=predicate, source_alias="source",
                    target_alias="target")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return DeltaTable(path).version()


def read_rows(config: PlatformConfig, table_name: str) -> list[dict[str, Any]]:
    """Read a (small) ops table as dicts; an absent table reads as empty."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = config.lake.table_path(table_name)
    try:
        table = DeltaTable(str(path))
    except TableNotFoundError:
        return []
    return table.to_pyarrow_table().to_pylist()
