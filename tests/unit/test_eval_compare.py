"""Stored-result comparison: newest evaluation per benchmark and task type, intervals where they belong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from training.evaluation.compare import (
    StoredEvaluation,
    comparison_table,
    format_cell,
    newest_per_benchmark,
    text_table,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def row(eval_id, when, benchmark, task_type, metric, value, ci=None):
    return {
        "eval_id": eval_id, "evaluated_at": NOW + timedelta(hours=when), "benchmark": benchmark,
        "task_type": task_type, "metric": metric, "language": "python", "value": value, "num_samples": 7,
        "details_json": json.dumps({"ci95": ci} if ci else {}), "training_run_id": "run-1", "table_version": 3,
    }


def test_newest_evaluation_per_benchmark_and_task_type_is_kept():
    rows = [
        row("old", 0, "humaneval", "completion", "pass@1", 0.1),
        row("new", 1, "humaneval", "completion", "pass@1", 0.2),
        row("old", 0, "humaneval-infill-single", "single-line", "pass@1", 0.3),
    ]
    kept = newest_per_benchmark(rows)
    assert sorted((r["eval_id"], r["benchmark"]) for r in kept) == [
        ("new", "humaneval"), ("old", "humaneval-infill-single")
    ]


def test_table_puts_models_side_by_side_with_pass1_intervals_only():
    ci = {"low": 0.1, "high": 0.5, "level": 0.95, "units": 3, "resamples": 1000}
    base = StoredEvaluation("base", [row("a", 0, "humaneval", "completion", "pass@1", 0.25, ci),
                                     row("a", 0, "humaneval", "completion", "pass@10", 0.5, ci)])
    tuned = StoredEvaluation("tuned", [row("b", 0, "humaneval", "completion", "pass@1", 0.5, ci)])
    table = comparison_table([base, tuned])
    assert [(line["metric"], sorted(k for k in line if k in ("base", "tuned"))) for line in table] == [
        ("pass@1", ["base", "tuned"]), ("pass@10", ["base"])
    ]
    assert format_cell(table[0]["base"]) == "0.25 [0.100, 0.500]"
    assert format_cell(table[1]["base"]) == "0.5"  # pass@10 shares pass@1's details: no interval shown
    assert format_cell(None) == "–"
    lines = text_table(table, ["base", "tuned"]).splitlines()
    assert lines[0].split()[-2:] == ["base", "tuned"] and lines[2].rstrip().endswith("–")
