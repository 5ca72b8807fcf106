"""The gold gate on real Spark + Delta + Great Expectations, and the offline report.

GE on Spark costs ~10-20 s per validation here, so one module-scoped scenario validates
twice (a clean version, then a corrupted one) and every test inspects its results.
"""

from __future__ import annotations

import base64
import re

import pytest

from data_platform.lake import init_tables
from data_platform.ops_log import read_rows
from data_platform.publication import latest_published_version
from data_platform.quality import build_report, gate_gold
from tests.conftest import make_config
from tests.fixtures.quality import (
    allow_nulls,
    corrupt_gold_rows,
    gold_rows,
    silver_rows,
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
    config = make_config(tmp_path_factory.mktemp("quality-lake"), "quality.languages=[python,go]")
    # As after `codemill tables init`: the ops table exists (Spark DDL) before the gate appends via delta-rs.
    init_tables(spark, config, ["ops.quality_results"])
    write_silver(spark, config, silver_rows())
    clean_version = write_gold(spark, config, gold_rows())
    clean = gate_gold(spark, config, run_id="run-clean", version=clean_version)
    allow_nulls(spark, config, "gold.training_corpus", "language")
    bad_version = write_gold(spark, config, corrupt_gold_rows(gold_rows()))
    bad = gate_gold(spark, config, run_id="run-corrupt", version=bad_version)
    report = build_report(spark, config, run_id="run-corrupt")
    return {"config": config, "clean": clean, "bad": bad, "report": report}


def test_clean_version_passes_and_is_published(scenario):
    clean = scenario["clean"]
    assert clean.validation.success, clean.summary_lines()
    assert clean.published
    assert clean.validation.row_count == 48
    # The suite is the contract-derived part plus the semantic file, plus both cross-row checks.
    labels = [outcome.label for outcome in clean.validation.outcomes]
    assert "expect_column_values_to_not_be_null(language)" in labels
    assert "check:one_split_per_repo(repo_id,split)" in labels
    assert any(label.startswith("expect_column_values_to_not_match_regex_list(text)") for label in labels)


def test_corrupted_version_fails_and_previous_stays_published(scenario):
    clean, bad = scenario["clean"], scenario["bad"]
    assert not bad.published
    assert not bad.validation.success
    published = latest_published_version(scenario["config"])
    assert published is not None
    assert published.table_version == clean.version
    assert published.quality_result_id == clean.validation.result_id
    assert bad.current_published == published


def test_failing_expectations_are_named_with_examples(scenario):
    failures = scenario["bad"].failing_expectations
    text = "\n".join(failures)
    assert "expect_column_values_to_not_be_null(language)" in text
    assert "check:one_split_per_repo(repo_id,split)" in text and "repo_id=repo-00 in test,train" in text
    email = next(
        line for line in failures if line.startswith("expect_column_values_to_not_match_regex_list(text)")
    )
    assert "jane.doe@example.com" in email and "doc_id=" in email
    # Nothing else failed: the defects are exactly the three injected ones.
    assert len(failures) == 3, failures
    summary = "\n".join(scenario["bad"].summary_lines())
    assert "NOT published" in summary and f"v{scenario['clean'].version} stays published" in summary


def test_results_are_rows_in_ops_quality_results(scenario):
    rows = {row["run_id"]: row for row in read_rows(scenario["config"], "ops.quality_results")}
    assert rows["run-clean"]["published"] and rows["run-clean"]["success"]
    bad = rows["run-corrupt"]
    assert not bad["published"] and not bad["success"]
    assert bad["table_version"] == scenario["bad"].version
    assert bad["evaluated_expectations"] - bad["successful_expectations"] == 3
    assert any("not_be_null(language)" in line for line in bad["failed_expectations"])
    assert bad["report_path"] and bad["report_path"].endswith(".html")


def test_html_report_renders_offline_with_plots(scenario):
    html = scenario["report"].read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 6
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    # Offline: no scripts or stylesheets from the network.
    assert not re.search(r'(src|href)="https?://', html)
    for title in ("Rows per language and split", "Drop reasons", "Near-duplicate cluster sizes", "PII"):
        assert title in html
    assert "expect_column_values_to_not_be_null(language)" in html
