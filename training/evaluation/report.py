"""The evaluation report: one JSON document and one self-contained HTML page with a chart.

The HTML embeds its chart as a base64 PNG (matplotlib, Agg backend) and uses no external
CSS or scripts, so it opens offline. Models appear as columns, side by side.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from typing import Any

from data_platform import storage
from data_platform.storage import Location


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def chart_png(report: dict) -> bytes | None:
    """Grouped bars: held-out loss per language and pass@k, one colour per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = report["models"]
    languages = sorted({lang for m in models for lang in (m.get("heldout") or {})})
    ks = sorted({k for m in models for k in (m.get("pass_at_k") or {})}, key=lambda k: int(k))
    panels = [name for name, present in (("heldout", languages), ("passk", ks)) if present]
    if not panels:
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    width = 0.8 / max(1, len(models))
    for axis, panel in zip(axes[0], panels, strict=True):
        groups = languages if panel == "heldout" else ks
        for i, model in enumerate(models):
            if panel == "heldout":
                values = [
                    (model.get("heldout") or {}).get(lang, {}).get("loss", float("nan")) for lang in groups
                ]
            else:
                values = [(model.get("pass_at_k") or {}).get(k, float("nan")) for k in groups]
            positions = [g + (i - (len(models) - 1) / 2) * width for g in range(len(groups))]
            axis.bar(positions, values, width, label=model["label"][:40])
        axis.set_xticks(range(len(groups)))
        axis.set_xticklabels([str(g) if panel == "heldout" else f"pass@{g}" for g in groups], rotation=30)
        axis.set_title(
            "held-out loss (nats/token, lower is better)"
            if panel == "heldout"
            else f"{report['benchmark']} (higher is better)"
        )
        if panel == "passk":
            axis.set_ylim(0, 1)
        axis.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.warn{background:#fff3cd;padding:8px;"
    "border:1px solid #e0c060}img{max-width:100%}"
)


def render_html(report: dict) -> str:
    """The session's report page: warnings, lineage, chart, held-out loss, pass@k, every metric."""
    labels = [html.escape(m["label"]) for m in report["models"]]
    parts = [
        f"<h1>codemill evaluation {html.escape(report['session_id'])}</h1>",
        f"<p>{html.escape(report['created_at'])} · benchmark <b>{html.escape(report['benchmark'])}</b></p>",
        _warnings_section(report),
        _lineage_section(report, labels),
    ]
    png = chart_png(report)
    if png:
        parts.append(f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts += [_heldout_section(report, labels), _passk_section(report, labels), _metrics_section(report)]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>codemill eval {html.escape(report['session_id'])}"
        f"</title><style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def _warnings_section(report: dict) -> str:
    warnings = report.get("warnings", []) + [w for m in report["models"] for w in m.get("warnings", [])]
    if not warnings:
        return ""
    return "<div class='warn'><b>Warnings</b><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + \
        "</ul></div>"


def _lineage_section(report: dict, labels: list[str]) -> str:
    rows = [
        [label, _fmt(m.get("model_path")), _fmt(m.get("training_run_id")), _fmt(m.get("base_model")),
         _fmt(m.get("table_version")), _fmt(m.get("eval_id"))]
        for label, m in zip(labels, report["models"], strict=True)
    ]
    header = ["model", "loaded from", "training run", "base model", "trained on gold version", "eval id"]
    return "<h2>Models and lineage</h2>" + _table(header, rows)


def _heldout_section(report: dict, labels: list[str]) -> str:
    heldout = report.get("heldout")
    if not heldout:
        return ""
    models = report["models"]
    intro = (f"<h2>Held-out loss</h2><p>{html.escape(heldout['table_path'])} version {heldout['table_version']} "
             f"({html.escape(heldout['reason'])}), splits {', '.join(heldout['splits'])}</p>")
    languages = sorted({lang for m in models for lang in (m.get("heldout") or {})})

    def cell(model: dict, lang: str) -> str:
        measured = (model.get("heldout") or {}).get(lang, {})
        return f"{_fmt(measured.get('loss'))} / {_fmt(measured.get('perplexity'), 2)}"

    rows = [[html.escape(lang)] + [cell(m, lang) for m in models] for lang in languages]
    return intro + _table(["language"] + [f"{label}<br>loss / perplexity" for label in labels], rows)


def _passk_section(report: dict, labels: list[str]) -> str:
    models = report["models"]
    ks = sorted({k for m in models for k in (m.get("pass_at_k") or {})}, key=lambda k: int(k))
    if not ks:
        return ""
    rows = [[f"pass@{k}"] + [_fmt((m.get("pass_at_k") or {}).get(k)) for m in models] for k in ks]
    rows.append(["problems"] + [_fmt(m.get("problems")) for m in models])
    rows.append(["sandbox"] + [_fmt(m.get("sandbox")) for m in models])
    summary = f"<h2>{html.escape(report['benchmark'])}</h2>" + _table(["metric"] + labels, rows)
    task_ids = [p["task_id"] for p in (models[0].get("per_problem") or [])]
    per_model = [{p["task_id"]: p for p in (m.get("per_problem") or [])} for m in models]

    def verdict(problems: dict, task: str) -> str:
        if task not in problems:
            return "–"
        p = problems[task]
        return f"{p['c']}/{p['n']} <small>{html.escape(p['results'][0][:80])}</small>"

    rows = [[html.escape(task)] + [verdict(pm, task) for pm in per_model] for task in task_ids]
    return summary + ("<details><summary>per problem (correct/samples, first verdict)</summary>"
                      + _table(["task"] + labels, rows) + "</details>")


def _metrics_section(report: dict) -> str:
    """Every metric row of the session, models side by side, with 95% intervals and a chart."""
    from training.evaluation.compare import StoredEvaluation, chart_png, comparison_table, format_cell

    labels = [m["label"] for m in report["models"]]
    rows = report.get("metrics") or []
    if not rows:
        return ""
    table = comparison_table([StoredEvaluation(label, [r for r in rows if r["label"] == label]) for label in labels])
    body = [
        [html.escape(str(line[key])) for key in ("benchmark", "task_type", "language", "metric")]
        + [html.escape(format_cell(line.get(label))) for label in labels]
        for line in table
    ]
    png = chart_png(table, labels)
    image = f"<img alt='metrics' src='data:image/png;base64,{base64.b64encode(png).decode()}'>" if png else ""
    return (
        "<h2>All metrics (as stored in ops.eval_results)</h2>" + image
        + _table(["benchmark", "task type", "language", "metric", *map(html.escape, labels)], body)
        + "<p>Brackets: 95% bootstrap interval over problems (line completion: documents).</p>"
    )


def write_report(report: dict, folder: Location) -> tuple[Location, Location]:
    """Write ``report.json`` and ``report.html`` into ``folder`` (a local path or an object-store URI)."""
    json_path, html_path = folder / "report.json", folder / "report.html"
    storage.write_text(json_path, json.dumps(report, indent=2, default=str, allow_nan=True))
    storage.write_text(html_path, render_html(report))
    return json_path, html_path
