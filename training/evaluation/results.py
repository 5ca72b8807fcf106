"""Evaluation results as ``ops.eval_results`` rows (one per benchmark, metric and language)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from data_platform.ops.records import append_rows
from training.config import TrainingConfig

EVAL_TABLE = "ops.eval_results"
HELDOUT = "heldout"


def heldout_rows(
    summary: dict[str, dict[str, float]], split_label: str, precision: str = "float32"
) -> list[dict[str, Any]]:
    """Loss and perplexity per language (``num_samples`` = tokens scored; details say the precision)."""
    rows = []
    for language, values in summary.items():
        if not values["tokens"]:
            continue
        details = json.dumps({"documents": values["documents"], "splits": split_label, "precision": precision})
        for metric in ("loss", "perplexity"):
            rows.append(
                {
                    "benchmark": HELDOUT,
                    "task_type": "loss",
                    "metric": metric,
                    "language": language,
                    "value": float(values[metric]),
                    "num_samples": int(values["tokens"]),
                    "details_json": details,
                }
            )
    return rows


def pass_at_k_rows(
    benchmark: str, pass_at_k: dict[int, float], num_problems: int, details: dict, task_type: str = "completion"
) -> list[dict]:
    """pass@k rows (``language`` = python, HumanEval's language; ``num_samples`` = problems/tasks)."""
    text = json.dumps(details)
    return [
        {
            "benchmark": benchmark,
            "task_type": task_type,
            "metric": f"pass@{k}",
            "language": "python",
            "value": float(value),
            "num_samples": num_problems,
            "details_json": text,
        }
        for k, value in sorted(pass_at_k.items())
    ]


def line_rows(rows: list[dict], table_version: int, seed: int, precision: str | None = None) -> list[dict]:
    """line-completion rows: the interval, the spans' origin and the generation precision (None
    when unknown: a server that does not report its dtype) go to ``details_json``."""
    return [
        {
            **{key: value for key, value in row.items() if key != "ci95"},
            "details_json": json.dumps({"ci95": row["ci95"], "gold_version": table_version, "seed": seed,
                                        "split": "test", "precision": precision}),
        }
        for row in rows
    ]


def with_lineage(
    rows: list[dict],
    *,
    eval_id: str,
    session_id: str,
    model_path: str,
    training_run_id: str | None,
    table_version: int | None,
    eval_table_version: int | None,
    evaluated_at: datetime,
) -> list[dict]:
    """Stamp every metric row with who was evaluated, on what, and when."""
    stamp = {
        "eval_id": eval_id,
        "session_id": session_id,
        "model_path": model_path,
        "training_run_id": training_run_id,
        "table_version": table_version,
        "eval_table_version": eval_table_version,
        "evaluated_at": evaluated_at,
    }
    return [{**row, **stamp} for row in rows]


def store(config: TrainingConfig, rows: list[dict]) -> int | None:
    """Append rows to ops.eval_results; returns the table version written (None if no rows).

    Tables written before ``task_type`` existed gain the column first (an in-place upgrade in
    ``append_rows``; old rows read it as null).
    """
    if not rows:
        return None
    return append_rows(config, EVAL_TABLE, rows)
