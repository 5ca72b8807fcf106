"""Promotion: a user marks a training run whose evaluation they accept as the one to serve.

``codemill promote RUN_ID`` appends an ``ops.promotions`` row holding the run's export, its
gold version and the metrics of its newest evaluation (``ops.eval_results``);
``codemill serve`` without ``--model`` serves the newest promoted run.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from data_platform.ops.records import append_rows, read_rows
from serving.config import CodemillConfig
from training.evaluation.lineage import export_exists
from training.lineage import read_run

PROMOTIONS_TABLE = "ops.promotions"
EVAL_TABLE = "ops.eval_results"


class PromotionError(ValueError):
    """A run cannot be promoted; the message says why and what to do."""


def evaluation_summary(rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """Eval ids of a run (newest first) and the newest one's metrics {benchmark: {metric: {language: value}}}.

    A benchmark scored under several task types in one evaluation (line-completion's ``line``
    and ``span``, with and without suffix) gets one entry per type, ``benchmark[task_type]``:
    their metrics share names and languages, and one would otherwise overwrite the other.
    """
    by_eval: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_eval[row["eval_id"]].append(row)
    order = sorted(by_eval, key=lambda eval_id: max(r["evaluated_at"] for r in by_eval[eval_id]), reverse=True)
    newest = by_eval[order[0]] if order else []
    task_types: dict[str, set] = defaultdict(set)
    for row in newest:
        task_types[row["benchmark"]].add(row.get("task_type"))
    summary: dict[str, Any] = {}
    for row in newest:
        name = row["benchmark"]
        if len(task_types[name]) > 1:
            name = f"{name}[{row.get('task_type') or 'unspecified'}]"
        summary.setdefault(name, {}).setdefault(row["metric"], {})[row["language"]] = row["value"]
    return order, summary


def promote(config: CodemillConfig, run_id: str, note: str | None = None, force: bool = False) -> dict[str, Any]:
    """Record ``run_id`` as promoted; returns the ``ops.promotions`` row written."""
    run = read_run(config, run_id)
    if run is None:
        raise PromotionError(f"no training run {run_id!r} in ops.training_runs under {config.lake.root}")
    if run["status"] != "succeeded":
        raise PromotionError(f"training run {run_id} has status {run['status']}; only succeeded runs can be served")
    export = run.get("export_path")
    if not export_exists(export):
        raise PromotionError(f"training run {run_id} has no export directory ({export}); nothing to serve")
    evaluations = [row for row in read_rows(config, EVAL_TABLE) if row["training_run_id"] == run_id]
    eval_ids, summary = evaluation_summary(evaluations)
    if not eval_ids and not force:
        raise PromotionError(
            f"training run {run_id} has no evaluation in {EVAL_TABLE}: run `codemill eval --model {run_id}` "
            "first, or pass --force to promote it unevaluated"
        )
    row = {
        "promotion_id": uuid.uuid4().hex[:12],
        "run_id": run_id,
        "promoted_at": datetime.now(UTC),
        "promoted_by": _user(),
        "export_path": str(export),
        "model_name": run["model_name"],
        "table_path": run["table_path"],
        "table_version": run["table_version"],
        "eval_ids": eval_ids,
        "eval_summary_json": json.dumps(summary, sort_keys=True) if summary else None,
        "note": note,
    }
    append_rows(config, PROMOTIONS_TABLE, [row])
    return row


def promotions(config: CodemillConfig) -> list[dict[str, Any]]:
    """Every promotion, newest first."""
    return sorted(read_rows(config, PROMOTIONS_TABLE), key=lambda row: row["promoted_at"], reverse=True)


def newest_promotion(config: CodemillConfig) -> dict[str, Any] | None:
    rows = promotions(config)
    return rows[0] if rows else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
