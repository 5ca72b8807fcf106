"""Append rows to ``ops.*`` tables without Spark, through delta-rs.

Training and evaluation run on Ray workers and plain Python processes that never start a
JVM; they still record lineage in the same contract tables the Spark jobs use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from data_platform.config import CodemillConfig
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


def append_rows(config: CodemillConfig, table_name: str, rows: Sequence[dict[str, Any]]) -> int:
    """Append rows to a contract table (created on first use); returns the new version."""
    from deltalake import DeltaTable, write_deltalake

    path = config.lake.table_path(table_name)
    data = rows_to_arrow(table_name, rows)
    write_deltalake(str(path), data, mode="append")
    return DeltaTable(str(path)).version()


def read_rows(config: CodemillConfig, table_name: str) -> list[dict[str, Any]]:
    """Read a (small) ops table as dicts; an absent table reads as empty."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = config.lake.table_path(table_name)
    try:
        table = DeltaTable(str(path))
    except TableNotFoundError:
        return []
    return table.to_pyarrow_table().to_pylist()
