"""The gold gate on real Spark + Delta + Great Expectations: quarantine, blocking, the report.

GE on Spark costs ~10-20 s per validation here, so one module-scoped scenario runs four
gates on one lake and every test inspects the recorded results:

1. a clean version: published;
2. row-level defects only (null and alias language, a license class the policy drops, an
   empty document, PII the old regex gate tripped on, a pasted HumanEval solution): those
   rows go to gold.quarantine, a version without them is written, validated and published;
   (before that, the same version with quality.on_row_failure=block: nothing quarantined,
   not published);
3. a table-level defect (a repository in two splits) beside the same row defects: the rows
   are quarantined, but the version without them still fails and nothing new is published.
"""

from __future__ import annotations

import base64
import re

import pytest

from data_platform.lake import init_tables, read_table
from data_platform.ops.records import read_rows
from data_platform.publication import latest_published_version
from data_platform.quality import build_report, gate_gold
from tests.conftest import make_config
from tests.fixtures.quality import (
    ROW_DEFECTS,
    allow_nulls,
    gold_rows,
    silver_rows,
    with_row_defects,
    with_split_leak,
    write_gold,
    write_silver,
)

pytestmark = pytest.mark.integration

SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"


@pytest.fixture(scope="module")
def small_delta_snapshots(spark):
    # Delta rebuilds a snapshot with 50 tasks by default; on 2 cores that dominated the gate's
    # time for these tiny tables (persisting a version: 30-40 s at default, 3-4 s at 1).
    previous = spark.conf.get(SNAPSHOT_PARTITIONS, None)
    spark.conf.set(SNAPSHOT_PARTITIONS, "1")
    yield
    if previous is None:
        spark.conf.unset(SNAPSHOT_PARTITIONS)
    else:
        spark.conf.set(SNAPSHOT_PARTITIONS, previous)


@pytest.fixture(scope="module")
def scenario(spark, small_delta_snapshots, tmp_path_factory):
    root = tmp_path_factory.mktemp("quality-lake")
    config = make_config(root, "quality.languages=[python,go]")
    # As after `codemill tables init`: the ops table exists (Spark DDL) before the gate appends via delta-rs.
    init_tables(spark, config, ["ops.quality_results"])
    write_silver(spark, config, silver_rows())
    clean = gate_gold(spark, config, "run-clean", write_gold(spark, config, gold_rows()))
    allow_nulls(spark, config, "gold.training_corpus", "language")
    rows_version = write_gold(spark, config, with_row_defects(gold_rows()))
    block_config = make_config(root, "quality.languages=[python,go]", "quality.on_row_failure=block")
    blocked = gate_gold(spark, block_config, "run-block", rows_version)
    rows = gate_gold(spark, config, "run-rows", rows_version)
    published_after_rows = latest_published_version(config)
    leak = gate_gold(spark, config, "run-leak", write_gold(spark, config, with_split_leak(gold_rows())))
    report = build_report(spark, config, run_id="run-rows")
    quarantine = read_table(spark, config, "gold.quarantine").collect()
    return dict(
        config=config, clean=clean, rows=rows, rows_version=rows_version, leak=leak, blocked=blocked,
        published_after_rows=published_after_rows, report=report, quarantine=quarantine,
        published_rows=read_table(spark, config, "gold.training_corpus", rows.version).collect(),
    )


def test_clean_version_passes_and_is_published(scenario):
    clean = scenario["clean"]
    assert clean.validation.success, clean.summary_lines()
    assert clean.published and clean.quarantined_rows == 0
    assert clean.validation.row_count == 48
    labels = [outcome.label for outcome in clean.validation.outcomes]
    assert "expect_column_values_to_not_be_null(language)" in labels
    for check in ("no_pii_left", "no_benchmark_contamination", "one_split_per_repo", "splits_not_empty"):
        assert any(label.startswith(f"check:{check}") for label in labels), check


def test_row_defects_are_quarantined_and_the_rest_is_published(scenario):
    rows = scenario["rows"]
    assert rows.published, rows.summary_lines()
    assert rows.version == scenario["rows_version"] + 1  # the gate wrote the version without them
    assert rows.quarantined_rows == len(ROW_DEFECTS)
    assert set(rows.quarantine.by_expectation) == set(ROW_DEFECTS)
    published = scenario["published_rows"]
    assert len(published) == 48 - len(ROW_DEFECTS)
    # documentation hosts stay in the text and do not trip the gate
    assert any("user%3Aname:%23%40%5E@example.com" in row["text"] for row in published)
    assert scenario["published_after_rows"].table_version == rows.version
    assert rows.validation.derived_from_version == scenario["rows_version"]


def test_quarantine_table_holds_rows_expectations_and_masked_reasons(scenario):
    held = [row for row in scenario["quarantine"] if row["source_version"] == scenario["rows_version"]]
    assert {row["expectation"] for row in held} == set(ROW_DEFECTS)
    pii = next(row for row in held if row["expectation"] == "check:no_pii_left(text)")
    assert "%23%40%5E@corp-mail.io" in pii["text"]  # restricted table: the text as it was
    assert "corp-mail" not in pii["reason"] and "PII finding" in pii["reason"]
    contaminated = next(row for row in held if row["expectation"] == "check:no_benchmark_contamination(text)")
    assert "HumanEval/12" in contaminated["reason"]
    assert all(row["clean_version"] == scenario["rows"].version for row in held)
    assert all(row["result_id"] == scenario["rows"].source_validation.result_id for row in held)


def test_ops_quality_results_records_both_versions(scenario):
    results = [row for row in read_rows(scenario["config"], "ops.quality_results") if row["run_id"] == "run-rows"]
    by_version = {row["table_version"]: row for row in results}
    source, clean = by_version[scenario["rows_version"]], by_version[scenario["rows"].version]
    assert source["quarantined_rows"] == len(ROW_DEFECTS) and not source["published"] and not source["success"]
    assert clean["derived_from_version"] == scenario["rows_version"] and clean["published"] and clean["success"]


def test_table_level_failure_blocks_even_after_quarantine(scenario):
    leak = scenario["leak"]
    assert leak.quarantined_rows == len(ROW_DEFECTS)
    assert not leak.published
    failures = "\n".join(leak.failing_expectations)
    assert "check:one_split_per_repo(repo_id,split)" in failures and "repo_id=repo-00 in test,train" in failures
    assert len(leak.failing_expectations) == 1, leak.failing_expectations
    assert leak.current_published.table_version == scenario["rows"].version
    assert f"v{scenario['rows'].version} stays published" in "\n".join(leak.summary_lines())


def test_block_mode_quarantines_nothing_and_blocks(scenario):
    blocked = scenario["blocked"]
    assert not blocked.published and blocked.quarantine is None
    failures = {outcome.label: outcome for outcome in blocked.validation.failures}
    assert set(failures) == set(ROW_DEFECTS), list(failures)
    assert all(outcome.unexpected_count == 1 for outcome in failures.values())
    pii = failures["check:no_pii_left(text)"].describe()
    assert "PII finding" in pii and "corp-mail" not in pii
    assert blocked.version == scenario["rows_version"]
    assert blocked.current_published.table_version == scenario["clean"].version


def test_html_report_renders_offline_with_plots_and_quarantine(scenario):
    html = scenario["report"].read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 6
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert not re.search(r'(src|href)="https?://', html)
    for title in ("Rows per language and split", "Drop reasons", "Near-duplicate cluster sizes", "PII"):
        assert title in html
    assert "Quarantined rows" in html and "check:no_pii_left(text)" in html
    assert "expect_column_values_to_be_in_set(language)" in html
