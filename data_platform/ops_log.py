"""Moved to :mod:`data_platform.ops.records`; this alias keeps branches written against the old
name importing until they are merged (docs/decisions/0120). Import ``data_platform.ops.records``."""

from data_platform.ops.records import append_rows, read_rows, rows_to_arrow, upsert_rows

__all__ = ["append_rows", "read_rows", "rows_to_arrow", "upsert_rows"]
