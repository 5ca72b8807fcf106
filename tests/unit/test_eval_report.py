"""Report rendering (offline HTML with an embedded chart) and ops.eval_results rows."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime

from data_platform.ops.records import rows_to_arrow
from training.evaluation.report import render_html, write_report
from training.evaluation.results import EVAL_TABLE, heldout_rows, pass_at_k_rows, with_lineage


def model_entry(label, loss, passed, run_id=None, warnings=()):
    return {
        "label": label,
        "eval_id": f"e-{label}",
        "model_path": f"/models/{label}",
        "training_run_id": run_id,
        "table_version": 3 if run_id else None,
        "warnings": list(warnings),
        "heldout": {
            "python": {"loss": loss, "perplexity": math.exp(loss), "tokens": 100, "documents": 2},
            "all": {"loss": loss, "perplexity": math.exp(loss), "tokens": 100, "documents": 2},
        },
        "pass_at_k": {"1": passed},
        "problems": 2,
        "per_problem": [
            {"task_id": "HumanEval/0", "n": 1, "c": 1, "results": ["passed"]},
            {"task_id": "HumanEval/1", "n": 1, "c": 0, "results": ["failed: AssertionError: <x>"]},
        ],
    }


def sample_report():
    return {
        "session_id": "eval-1",
        "created_at": "2026-11-26T00:00:00",
        "benchmark": "humaneval",
        "settings": {},
        "warnings": [],
        "heldout": {
            "table_path": "/lake/gold/training_corpus",
            "table_version": 3,
            "splits": ["valid", "test"],
            "reason": "the version training run run-7 learned from",
            "published": True,
        },
        "models": [
            model_entry("smollm2", 1.5, 0.5),
            model_entry("run-7", 1.2, 1.0, "run-7", ["version 3 has no record of decontamination"]),
        ],
    }


def test_html_is_self_contained_and_side_by_side(tmp_path):
    json_path, html_path = write_report(sample_report(), tmp_path / "r")
    page = html_path.read_text()
    assert "http://" not in page and "https://" not in page  # opens offline
    png = page.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert page.index("smollm2") < page.index("run-7")  # columns in the order given
    assert "no record of decontamination" in page
    assert "&lt;x&gt;" in page  # verdicts are escaped
    assert json.loads(json_path.read_text())["models"][1]["pass_at_k"] == {"1": 1.0}


def test_report_without_metrics_has_no_chart():
    report = sample_report()
    for model in report["models"]:
        model.pop("heldout"), model.pop("pass_at_k")
    assert "data:image/png" not in render_html(report)


def test_rows_fit_the_contract():
    summary = sample_report()["models"][1]["heldout"]
    rows = heldout_rows(summary, "valid+test") + pass_at_k_rows(
        "humaneval", {1: 1.0, 10: 1.0}, 2, {"samples": 10}
    )
    stamped = with_lineage(
        rows,
        eval_id="e",
        session_id="s",
        model_path="/m",
        training_run_id="run-7",
        table_version=3,
        eval_table_version=3,
        evaluated_at=datetime.now(UTC),
    )
    table = rows_to_arrow(EVAL_TABLE, stamped)
    assert table.num_rows == 6  # loss + perplexity for python and all, pass@1, pass@10
    metrics = {(r["benchmark"], r["metric"], r["language"]) for r in stamped}
    assert ("heldout", "perplexity", "all") in metrics and ("humaneval", "pass@10", "python") in metrics
    assert all(r["training_run_id"] == "run-7" for r in stamped)


def test_languages_without_tokens_are_not_stored():
    summary = {"rust": {"loss": float("nan"), "perplexity": float("nan"), "tokens": 0, "documents": 1}}
    assert heldout_rows(summary, "valid") == []
