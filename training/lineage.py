"""Lineage of training runs: which table version a run learned from, and what it produced.

Before anything starts, ``choose_table_version`` decides the gold version: the latest
published one, or the one asked for, and refuses an unpublished version unless the caller
allows it on purpose (which is recorded). ``record_run`` keeps one ``ops.training_runs``
row per run id, updated as the run moves from running to succeeded/failed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_platform.config import CodemillConfig
from data_platform.ops_log import append_rows, read_rows, rows_to_arrow
from data_platform.publication import GOLD_TABLE, latest_published_version, publication_of

RUNS_TABLE = "ops.training_runs"


class LineageError(ValueError):
    """A training run cannot start on the requested data; the message says why in one line."""


@dataclass(frozen=True)
class TableChoice:
    table_name: str
    table_path: str
    table_version: int
    quality_result_id: str | None
    allow_unvalidated: bool


def choose_table_version(
    config: CodemillConfig,
    requested: int | None = None,
    allow_unvalidated: bool = False,
    table_name: str = GOLD_TABLE,
) -> TableChoice:
    """The version to train on, with the quality result that published it."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = config.lake.table_path(table_name)
    try:
        latest = DeltaTable(str(path)).version()
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


def code_version() -> str:
    """codemill's version plus the git commit of the working tree (``+dirty`` when edited)."""
    from codemill import __version__

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return f"codemill {__version__} git {commit or 'unknown'}{'+dirty' if dirty else ''}"


def now() -> datetime:
    return datetime.now(UTC)


def record_run(config: CodemillConfig, row: dict[str, Any]) -> None:
    """Insert or update the run's row (one row per run id: the key of the contract)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = str(config.lake.table_path(RUNS_TABLE))
    try:
        table = DeltaTable(path)
    except TableNotFoundError:
        append_rows(config, RUNS_TABLE, [row])
        return
    (
        table.merge(
            rows_to_arrow(RUNS_TABLE, [row]),
            predicate="target.run_id = source.run_id",
            source_alias="source",
            target_alias="target",
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )


def read_run(config: CodemillConfig, run_id: str) -> dict[str, Any] | None:
    rows = [row for row in read_rows(config, RUNS_TABLE) if row["run_id"] == run_id]
    return max(rows, key=lambda row: row["started_at"]) if rows else None


def quality_result(config: CodemillConfig, result_id: str | None) -> dict[str, Any] | None:
    if result_id is None:
        return None
    for row in read_rows(config, "ops.quality_results"):
        if row["result_id"] == result_id:
            return row
    return None
