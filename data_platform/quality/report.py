"""The offline data-quality report: one self-contained HTML file.

Great Expectations' Data Docs load bootstrap/jquery/vega from CDNs and render unstyled
without internet access, so this report carries its own CSS and embeds every plot as a
base64 PNG (matplotlib, Agg); it links to the Data Docs pages for the full GE detail.
"""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_platform.config import PlatformConfig
from data_platform.ops.records import read_rows
from data_platform.quality.gx_runner import publish_quality, quality_root
from data_platform.quality.profile import Profile, collect_profile, log2_bucket_label
from data_platform.quality.results import OPS_TABLE

SPLIT_COLOURS = {"train": "#4C72B0", "valid": "#DD8452", "test": "#55A868"}

_CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #666; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
ul.failures li { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .82rem; margin: .2rem 0;
                 word-break: break-all; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #eee; padding: .5rem; } figcaption { font-weight: 600; margin-bottom: .3rem; }
figure img { width: 100%; height: auto; } .empty { color: #888; font-style: italic; }
"""


class ReportError(RuntimeError):
    """No results to report (the message is one line)."""


def select_results(rows: list[dict[str, Any]], run_id: str | None) -> list[dict[str, Any]]:
    """The results a report covers: every row of ``run_id``, or the latest row per table."""
    if run_id is not None:
        chosen = [row for row in rows if row.get("run_id") == run_id]
        if not chosen:
            runs = sorted({str(row.get("run_id")) for row in rows if row.get("run_id")})
            known = f"; runs with results: {', '.join(runs[-5:])}" if runs else ""
            raise ReportError(f"no quality results for run {run_id!r}{known}")
    else:
        latest: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda r: r["validated_at"]):
            latest[row["table_name"]] = row
        chosen = list(latest.values())
        if not chosen:
            raise ReportError(
                "no quality results yet: run `codemill quality run --table T` or an ingest first"
            )
    return sorted(chosen, key=lambda r: (r["table_name"], r["validated_at"]))


def with_quarantine_sources(rows: list[dict[str, Any]], all_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` plus, for a version written without quarantined rows, the result of its source."""
    wanted = {
        (row["table_name"], row["derived_from_version"])
        for row in rows
        if row.get("derived_from_version") is not None
    }
    have = {(row["table_name"], row["table_version"]) for row in rows}
    extra = [
        row
        for row in all_rows
        if (row["table_name"], row["table_version"]) in wanted - have and row.get("quarantined_rows")
    ]
    return sorted(rows + extra, key=lambda r: (r["table_name"], r["validated_at"]))


def quarantine_lines(quarantined: list[dict[str, Any]]) -> list[str]:
    """Terminal lines listing quarantined rows (path, expectation, masked reason)."""
    return [
        f"  quarantined from v{row['source_version']}: {row['path']} ({str(row['doc_id'])[:12]}): "
        f"{row['expectation']}: {row['reason']}"
        for row in quarantined
    ]


def summary_lines(rows: list[dict[str, Any]], quarantined: list[dict[str, Any]] | None = None) -> list[str]:
    """Terminal summary of ops.quality_results rows: one line per result, its failures, quarantined rows."""
    lines = []
    for row in rows:
        verdict = "PASSED" if row["success"] else "FAILED"
        if row.get("quarantined_rows"):
            verdict = f"{row['quarantined_rows']} row(s) QUARANTINED"
        published = ", published" if row["published"] else ""
        derived = (
            f", written from v{row['derived_from_version']} without quarantined rows"
            if row.get("derived_from_version") is not None
            else ""
        )
        checked = (
            f"{row['evaluated_expectations']} row-level expectation(s) failed"
            if row.get("quarantined_rows")
            else f"{row['successful_expectations']}/{row['evaluated_expectations']} expectations"
        )
        lines.append(
            f"{row['table_name']} v{row['table_version']}: {verdict}{published}{derived} "
            f"({checked}, {row['row_count']} rows, run {row.get('run_id') or '-'})"
        )
        lines += [f"  ✗ {failure}" for failure in row.get("failed_expectations") or []]
        if row.get("quarantined_rows") and quarantined is not None:
            lines += quarantine_lines([q for q in quarantined if q["source_version"] == row["table_version"]])
    return lines


# ---------------------------------------------------------------------------------------- plots


def _figure(width: float = 6.4, height: float = 3.6):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bucket_bars(ax, buckets: dict[int, int], label, colour: str, xlabel: str) -> None:
    keys = sorted(buckets)
    ax.bar([label(k) for k in keys], [buckets[k] for k in keys], color=colour)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("files")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)


def plot_language_split(profile: Profile) -> str | None:
    if not profile.rows_by_language_split:
        return None
    languages = sorted({lang for lang, _ in profile.rows_by_language_split})
    totals = {
        lang: sum(n for (l2, _), n in profile.rows_by_language_split.items() if l2 == lang)
        for lang in languages
    }
    languages = sorted(languages, key=lambda lang: -totals[lang])[:25]
    splits = sorted(
        {split for _, split in profile.rows_by_language_split},
        key=lambda s: list(SPLIT_COLOURS).index(s) if s in SPLIT_COLOURS else 99,
    )
    figure = _figure()
    ax = figure.subplots()
    bottom = [0] * len(languages)
    for split in splits:
        values = [profile.rows_by_language_split.get((lang, split), 0) for lang in languages]
        ax.bar(languages, values, bottom=bottom, label=split, color=SPLIT_COLOURS.get(split, "#999999"))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("documents")
    ax.set_title(f"gold v{profile.gold_version}: {profile.gold_rows} documents")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.legend()
    return _png(figure)


def plot_sizes(profile: Profile) -> str | None:
    if not profile.gold_size_buckets and not profile.silver_size_buckets:
        return None
    figure = _figure(7.5, 3.6)
    left, right = figure.subplots(1, 2)
    _bucket_bars(left, profile.silver_size_buckets, log2_bucket_label, "#8172B3", "silver file size (bytes)")
    _bucket_bars(right, profile.gold_size_buckets, log2_bucket_label, "#4C72B0", "gold document size (bytes)")
    right.set_ylabel("documents")
    return _png(figure)


def plot_line_lengths(profile: Profile) -> str | None:
    if not profile.max_line_buckets and not profile.mean_line_buckets:
        return None
    figure = _figure(7.5, 3.6)
    left, right = figure.subplots(1, 2)
    _bucket_bars(left, profile.max_line_buckets, log2_bucket_label, "#C44E52", "longest line (characters)")

    def mean_label(bucket: int) -> str:
        return "200+" if bucket >= 20 else f"{bucket * 10}-{bucket * 10 + 9}"

    _bucket_bars(right, profile.mean_line_buckets, mean_label, "#DD8452", "mean line length (characters)")
    return _png(figure)


def plot_drop_reasons(profile: Profile) -> str | None:
    if not profile.drop_reasons:
        return None
    items = sorted(profile.drop_reasons.items(), key=lambda item: item[1])
    figure = _figure(6.4, max(2.0, 0.35 * len(items) + 1))
    ax = figure.subplots()
    ax.barh(
        [str(k) for k, _ in items],
        [v for _, v in items],
        color=["#55A868" if k == "(kept)" else "#C44E52" for k, _ in items],
    )
    ax.set_xlabel("silver files")
    return _png(figure)


def plot_cluster_sizes(profile: Profile) -> str | None:
    if not profile.cluster_sizes:
        return None
    figure = _figure()
    ax = figure.subplots()
    sizes = sorted(profile.cluster_sizes)
    ax.bar([str(size) for size in sizes], [profile.cluster_sizes[size] for size in sizes], color="#937860")
    ax.set_yscale("log")
    ax.set_xlabel("members per near-duplicate cluster")
    ax.set_ylabel("clusters (log)")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    return _png(figure)


def plot_pii(profile: Profile) -> str | None:
    if not profile.pii_counts:
        return None
    figure = _figure()
    ax = figure.subplots()
    kinds = sorted(profile.pii_counts)
    ax.bar(kinds, [profile.pii_counts[kind] for kind in kinds], color="#DA8BC3")
    ax.set_ylabel("replacements")
    ax.set_title(f"{profile.pii_files} of {profile.silver_rows} silver files had PII redacted")
    return _png(figure)


PLOTS = (
    ("Rows per language and split", plot_language_split),
    ("Size distributions", plot_sizes),
    ("Line-length distributions", plot_line_lengths),
    ("Drop reasons", plot_drop_reasons),
    ("Near-duplicate cluster sizes", plot_cluster_sizes),
    ("PII replacements by kind", plot_pii),
)


# ----------------------------------------------------------------------------------------- html


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _result_rows_html(rows: list[dict[str, Any]]) -> str:
    body = []
    for row in rows:
        verdict = '<span class="pass">passed</span>' if row["success"] else '<span class="fail">failed</span>'
        docs = row.get("report_path")
        link = f'<a href="file://{_e(docs)}">Data Docs</a>' if docs else ""
        body.append(
            f"<tr><td>{_e(row['table_name'])}</td><td>{_e(row['table_version'])}</td><td>{verdict}</td>"
            f"<td>{'yes' if row['published'] else 'no'}</td>"
            f"<td>{_e(row['successful_expectations'])}/{_e(row['evaluated_expectations'])}</td>"
            f"<td>{_e(row['row_count'])}</td><td>{_e(row.get('run_id') or '-')}</td>"
            f"<td>{_e(row['validated_at'])}</td><td>{link}</td></tr>"
        )
    head = (
        "<tr><th>table</th><th>version</th><th>result</th><th>published</th><th>expectations</th>"
        "<th>rows</th><th>run</th><th>validated at</th><th>detail</th></tr>"
    )
    return f"<table>{head}{''.join(body)}</table>"


def _failures_html(rows: list[dict[str, Any]]) -> str:
    parts = []
    for row in rows:
        failures = row.get("failed_expectations") or []
        if failures:
            items = "".join(f"<li>{_e(failure)}</li>" for failure in failures)
            parts.append(
                f'<h3>{_e(row["table_name"])} v{_e(row["table_version"])}</h3><ul class="failures">{items}</ul>'
            )
    return "".join(parts) or '<p class="empty">No failing expectations.</p>'


def _quarantine_html(quarantined: list[dict[str, Any]]) -> str:
    if not quarantined:
        return '<p class="empty">No rows quarantined.</p>'
    head = (
        "<tr><th>from version</th><th>published without it</th><th>path</th><th>doc_id</th>"
        "<th>expectation</th><th>reason</th></tr>"
    )
    body = "".join(
        f"<tr><td>{_e(row['source_version'])}</td><td>{_e(row['clean_version'])}</td><td>{_e(row['path'])}</td>"
        f"<td>{_e(str(row['doc_id'])[:16])}</td><td>{_e(row['expectation'])}</td><td>{_e(row['reason'])}</td></tr>"
        for row in quarantined
    )
    return (
        f"<p>Rows held back from publication (gold.quarantine; its text is restricted).</p>"
        f"<table>{head}{body}</table>"
    )


def render_html(
    rows: list[dict[str, Any]],
    profile: Profile | None,
    title: str,
    data_docs_index: Path | None = None,
    generated_at: datetime | None = None,
    quarantined: list[dict[str, Any]] | None = None,
) -> str:
    """The whole report as one HTML string (no network resources)."""
    generated_at = generated_at or datetime.now(UTC)
    figures = []
    if profile is not None:
        for caption, plot in PLOTS:
            image = plot(profile)
            content = (
                f'<img alt="{_e(caption)}" src="data:image/png;base64,{image}">'
                if image
                else '<p class="empty">No data (table not written yet).</p>'
            )
            figures.append(f"<figure><figcaption>{_e(caption)}</figcaption>{content}</figure>")
    docs = (
        f"<p>Great Expectations Data Docs (full detail; styled only with internet access): "
        f'<a href="file://{_e(data_docs_index)}">{_e(data_docs_index)}</a></p>'
        if data_docs_index and data_docs_index.exists()
        else ""
    )
    profile_html = f'<h2>Data profile</h2><div class="plots">{"".join(figures)}</div>' if figures else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="meta">generated {_e(generated_at.strftime("%Y-%m-%d %H:%M:%S UTC"))}</p>'
        f"<h2>Validation results</h2>{_result_rows_html(rows)}"
        f"<h2>Failing expectations</h2>{_failures_html(rows)}"
        f"<h2>Quarantined rows</h2>{_quarantine_html(quarantined or [])}"
        f"{profile_html}{docs}</body></html>"
    )


def report_path(config: PlatformConfig, run_id: str | None) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id) if run_id else "latest"
    return quality_root(config) / "reports" / f"report-{name}.html"


def data_docs_index(config: PlatformConfig) -> Path:
    return quality_root(config) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def report_quarantine(config: PlatformConfig, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quarantined rows of the gold versions these results quarantined from."""
    from data_platform.quality.quarantine import quarantined_rows

    versions = [
        row["table_version"]
        for row in rows
        if row["table_name"] == "gold.training_corpus" and row.get("quarantined_rows")
    ]
    return quarantined_rows(config, versions, max(config.quality.quarantine_examples, 1) * 10)


def build_report(spark, config: PlatformConfig, run_id: str | None = None) -> Path:
    """Write the report of a run (default: the latest result per table); returns its path."""
    all_rows = read_rows(config, OPS_TABLE)
    rows = with_quarantine_sources(select_results(all_rows, run_id), all_rows)
    profile = None
    if config.quality.report_profile and spark is not None:
        gold = [row for row in rows if row["table_name"] == "gold.training_corpus"]
        profile = collect_profile(spark, config, gold[-1]["table_version"] if gold else None)
    title = f"codemill data quality: run {run_id}" if run_id else "codemill data quality: latest results"
    path = report_path(config, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(rows, profile, title, data_docs_index(config), None, report_quarantine(config, rows)))
    publish_quality(config)
    return path
