"""The offline HTML report from synthetic aggregates (matplotlib only, no Spark)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import pytest

from data_platform.quality.profile import Profile, log2_bucket_label
from data_platform.quality.report import (
    ReportError,
    render_html,
    select_results,
    summary_lines,
    with_quarantine_sources,
)


def _row(table, version, success, run_id, minute, failures=()):
    return {
        "result_id": f"{table}-{version}",
        "run_id": run_id,
        "table_name": table,
        "table_version": version,
        "suite_name": table.replace(".", "__"),
        "success": success,
        "published": success and table.startswith("gold"),
        "evaluated_expectations": 10,
        "successful_expectations": 10 - len(failures),
        "failed_expectations": list(failures),
        "row_count": 5,
        "report_path": f"/lake/docs/{table}.html",
        "validated_at": datetime(2026, 11, 26, 1, minute, tzinfo=UTC),
    }


ROWS = [
    _row("gold.training_corpus", 1, True, "run-1", 1),
    _row("silver.files", 3, True, "run-1", 2),
    _row(
        "gold.training_corpus",
        2,
        False,
        "run-2",
        5,
        ["expect_column_values_to_not_be_null(language): 1 of 5 rows"],
    ),
]


def _profile():
    return Profile(
        gold_version=2,
        gold_rows=7,
        rows_by_language_split={("python", "train"): 4, ("go", "train"): 2, ("python", "test"): 1},
        gold_size_buckets={5: 3, 7: 4},
        silver_size_buckets={0: 1, 4: 2, 11: 5},
        max_line_buckets={3: 2, 6: 5},
        mean_line_buckets={1: 3, 20: 1},
        drop_reasons={"(kept)": 7, "near_duplicate": 2},
        cluster_sizes={1: 6, 3: 1},
        pii_counts={"email": 3, "key": 1},
        pii_files=2,
        silver_rows=9,
    )


def test_results_of_a_run_or_latest_per_table():
    assert [r["table_version"] for r in select_results(ROWS, "run-1")] == [1, 3]
    latest = select_results(ROWS, None)
    assert {(r["table_name"], r["table_version"]) for r in latest} == {
        ("gold.training_corpus", 2),
        ("silver.files", 3),
    }
    with pytest.raises(
        ReportError, match="no quality results for run 'run-9'; runs with results: run-1, run-2"
    ):
        select_results(ROWS, "run-9")
    with pytest.raises(ReportError, match="no quality results yet"):
        select_results([], None)


def test_summary_lines_name_failures():
    lines = summary_lines(select_results(ROWS, "run-2"))
    assert lines[0].startswith("gold.training_corpus v2: FAILED (9/10 expectations")
    assert lines[1] == "  ✗ expect_column_values_to_not_be_null(language): 1 of 5 rows"


def test_report_embeds_six_png_plots_and_no_network_resources():
    html = render_html(select_results(ROWS, "run-2"), _profile(), "quality <report>")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 6
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    assert not re.search(r'(src|href)="https?://', html)
    assert "quality &lt;report&gt;" in html  # titles are escaped
    assert "expect_column_values_to_not_be_null(language)" in html
    for caption in (
        "Rows per language and split",
        "Size distributions",
        "Line-length distributions",
        "Drop reasons",
        "Near-duplicate cluster sizes",
        "PII replacements by kind",
    ):
        assert caption in html


def test_missing_tables_leave_placeholders_not_errors():
    html = render_html(ROWS[:1], Profile(), "empty")
    assert "data:image/png" not in html
    assert html.count("No data") == 6


def test_log2_bucket_labels():
    assert [log2_bucket_label(b) for b in (0, 1, 2, 3, 11)] == ["0", "1", "2-3", "4-7", "1Ki-2Ki"]


def test_quarantined_rows_are_listed_in_summary_and_html():
    source = {**_row("gold.training_corpus", 7, False, "run-3", 10, ["check:no_pii_left(text)"]), "quarantined_rows": 1}
    clean = {**_row("gold.training_corpus", 8, True, "run-3", 11), "derived_from_version": 7}
    quarantined = [
        {
            "source_version": 7,
            "clean_version": 8,
            "path": "tests/test_urls.py",
            "doc_id": "d" * 32,
            "expectation": "check:no_pii_left(text)",
            "reason": "1 PII finding(s) left after redaction: email (email) at line 3: us…(22 chars)",
        }
    ]
    # the latest gold result is the clean version; its source comes along
    rows = with_quarantine_sources(select_results([*ROWS, source, clean], None), [*ROWS, source, clean])
    assert [r["table_version"] for r in rows if r["table_name"] == "gold.training_corpus"] == [7, 8]
    text = "\n".join(summary_lines(rows, quarantined))
    assert "gold.training_corpus v7: 1 row(s) QUARANTINED" in text
    assert "v8: PASSED, published, written from v7 without quarantined rows" in text
    assert "quarantined from v7: tests/test_urls.py" in text and "us…(22 chars)" in text
    html = render_html(rows, None, "q", quarantined=quarantined)
    assert "Quarantined rows" in html and "tests/test_urls.py" in html and "restricted" in html
    assert "No rows quarantined." in render_html(ROWS, None, "q")
