"""Compare evaluations from stored results (``ops.eval_results``) instead of re-running them.

A reference names an evaluation by a training run id, an eval id, a session id or the model
path it was run on; the newest evaluation behind it is used (per benchmark and task type, so
a run evaluated on HumanEval yesterday and on infilling today shows both). Rows keep their
lineage, and pass@1 rows carry the bootstrap interval computed when they were measured.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from training.config import TrainingConfig
from training.evaluation.results import EVAL_TABLE

ID_COLUMNS = ("training_run_id", "eval_id", "session_id", "model_path")


@dataclass(frozen=True)
class StoredEvaluation:
    label: str
    rows: list[dict]


def _matching_rows(config: TrainingConfig, reference: str) -> list[dict]:
    import pyarrow.dataset as ds

    from data_platform.migrations import is_delta_table
    from data_platform.storage import delta_table

    path = str(config.lake.table_path(EVAL_TABLE))
    if not is_delta_table(path):
        return []
    dataset = delta_table(path).to_pyarrow_dataset()
    matches = None
    for column in ID_COLUMNS:
        test = ds.field(column) == reference
        matches = test if matches is None else matches | test
    return dataset.to_table(filter=matches).to_pylist()


def newest_per_benchmark(rows: Sequence[dict]) -> list[dict]:
    """Rows of the newest evaluation for each (benchmark, task type)."""
    newest: dict[tuple, tuple] = {}
    for row in rows:
        key = (row["benchmark"], row.get("task_type"))
        stamp = (row["evaluated_at"], row["eval_id"])
        newest[key] = max(newest.get(key, stamp), stamp)
    return [row for row in rows if (row["evaluated_at"], row["eval_id"]) == newest[(row["benchmark"], row.get("task_type"))]]


def load_stored(config: TrainingConfig, reference: str) -> StoredEvaluation | None:
    """The newest stored results behind ``reference``, or None when nothing was stored."""
    rows = _matching_rows(config, reference)
    return StoredEvaluation(reference, newest_per_benchmark(rows)) if rows else None


def _interval(row: dict) -> dict | None:
    try:
        return (json.loads(row.get("details_json") or "{}") or {}).get("ci95")
    except ValueError:
        return None


def comparison_table(evaluations: Sequence[StoredEvaluation]) -> list[dict]:
    """One line per (benchmark, task type, language, metric), one value (and interval) per model."""
    lines: dict[tuple, dict] = {}
    for evaluation in evaluations:
        for row in evaluation.rows:
            key = (row["benchmark"], row.get("task_type") or "", row["language"], row["metric"])
            line = lines.setdefault(key, dict(zip(("benchmark", "task_type", "language", "metric"), key, strict=True)))
            line[evaluation.label] = {
                "value": row["value"],
                "num_samples": row["num_samples"],
                # pass@k rows share one details_json; its interval is pass@1's.
                "ci95": _interval(row) if row["metric"] in ("pass@1", "exact_match", "edit_similarity") else None,
                "training_run_id": row.get("training_run_id"),
                "table_version": row.get("table_version"),
            }
    return [lines[key] for key in sorted(lines)]


def format_cell(cell: dict | None) -> str:
    if not cell:
        return "–"
    text = f"{cell['value']:.4g}"
    if cell.get("ci95"):
        text += f" [{cell['ci95']['low']:.3f}, {cell['ci95']['high']:.3f}]"
    return text


def text_table(table: list[dict], labels: Sequence[str]) -> str:
    header = ["benchmark", "task type", "language", "metric", *labels]
    body = [
        [line["benchmark"], line["task_type"], line["language"], line["metric"], *(format_cell(line.get(label)) for label in labels)]
        for line in table
    ]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *body])


def chart_png(table: list[dict], labels: Sequence[str]) -> bytes | None:
    """Bars per (benchmark, task type, language) of pass@1 / exact match, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [line for line in table if line["metric"] in ("pass@1", "exact_match", "edit_similarity")]
    if not shown:
        return None
    figure, axis = plt.subplots(figsize=(max(6, 1.2 * len(shown) * max(1, len(labels))), 4))
    width = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        values, errors = [], [[], []]
        for line in shown:
            cell = line.get(label) or {}
            value = cell.get("value", float("nan"))
            values.append(value)
            ci = cell.get("ci95") or {"low": value, "high": value}
            errors[0].append(max(0.0, value - ci["low"]))
            errors[1].append(max(0.0, ci["high"] - value))
        positions = [g + (i - (len(labels) - 1) / 2) * width for g in range(len(shown))]
        axis.bar(positions, values, width, yerr=errors, capsize=3, label=label[:40])
    axis.set_xticks(range(len(shown)))
    axis.set_xticklabels(
        [f"{line['benchmark']}\n{line['task_type']} {line['language']}\n{line['metric']}" for line in shown], fontsize=7
    )
    axis.set_ylim(0, 1)
    axis.set_title("higher is better; bars: 95% bootstrap interval over problems")
    axis.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def render_html(table: list[dict], labels: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["benchmark", "task type", "language", "metric", *labels])
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(str(line[key]))}</td>" for key in ("benchmark", "task_type", "language", "metric"))
        + "".join(f"<td>{html.escape(format_cell(line.get(label)))}</td>" for label in labels)
        + "</tr>"
        for line in table
    )
    png = chart_png(table, labels)
    image = f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(png).decode()}'>" if png else ""
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>codemill eval comparison</title><style>{style}</style>"
        f"</head><body><h1>Stored evaluation results</h1>{image}<table><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table><p>Values in brackets: 95% bootstrap interval over problems.</p></body></html>"
    )
