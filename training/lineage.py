"""Lineage of training runs: which table version a run learned from, and what it produced.

Before anything starts, ``choose_table_version`` decides the gold version: the latest
published one, or the one asked for, and refuses an unpublished version unless the caller
allows it on purpose (which is recorded). ``record_run`` keeps one ``ops.training_runs``
row per run id, updated as the run moves from running to succeeded/failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from data_platform.ops.records import read_rows, upsert_rows
from data_platform.ops.runs import LineageError
from data_platform.publication import GOLD_TABLE, latest_published_version, publication_of
from training.config import TrainingConfig

RUNS_TABLE = "ops.training_runs"
__all__ = ["LineageError", "TableChoice", "choose_table_version", "quality_result", "read_run", "record_run"]


@dataclass(frozen=True)
class TableChoice:
    table_name: str
    table_path: str
    table_version: int
    quality_result_id: str | None
    allow_unvalidated: bool


def choose_table_version(
    config: TrainingConfig,
    requested: int | None = None,
    allow_unvalidated: bool = False,
    table_name: str = GOLD_TABLE,
) -> TableChoice:
    """The version to train on, with the quality result that published it."""
    from deltalake.exceptions import TableNotFoundError

    from data_platform.storage import delta_table

    path = config.lake.table_path(table_name)
    try:
        latest = delta_table(str(path)).version()
    except TableNotFoundError:
        raise LineageError(f"{table_name} does not exist at {path}: run the ingest pipeline first") from None
    if requested is not None and not 0 <= requested <= latest:
        raise LineageError(f"{table_name} has no version {requested} (latest is {latest})")
    if requested is None:
        published = latest_published_version(config, table_name)
        if published is not None:
            return TableChoice(
                table_name, str(path), published.table_version, published.quality_result_id, False
            )
        if not allow_unvalidated:
            raise LineageError(
                f"no published version of {table_name} (none passed its quality gate); "
                "pass --allow-unvalidated to train on the latest version anyway"
            )
        return TableChoice(table_name, str(path), latest, None, True)
    published = publication_of(config, table_name, requested)
    if published is not None:
        return TableChoice(table_name, str(path), requested, published.quality_result_id, False)
    if not allow_unvalidated:
        raise LineageError(
            f"{table_name} version {requested} is not published (no passing quality result); "
            "pass --allow-unvalidated to train on it anyway"
        )
    return TableChoice(table_name, str(path), requested, None, True)


def record_run(config: TrainingConfig, row: dict[str, Any]) -> None:
    """Insert or update the run's row (one row per run id: the key of the contract)."""
    upsert_rows(config, RUNS_TABLE, [row])


def read_run(config: TrainingConfig, run_id: str) -> dict[str, Any] | None:
    rows = [row for row in read_rows(config, RUNS_TABLE) if row["run_id"] == run_id]
    return max(rows, key=lambda row: row["started_at"]) if rows else None


def quality_result(config: TrainingConfig, result_id: str | None) -> dict[str, Any] | None:
    if result_id is None:
        return None
    for row in read_rows(config, "ops.quality_results"):
        if row["result_id"] == result_id:
            return row
    return None
