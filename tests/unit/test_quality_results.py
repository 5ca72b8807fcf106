"""Turning GE results into outcomes, rows and summary lines (plain dicts, no GE run)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from data_platform.contracts import contract
from data_platform.ops.records import rows_to_arrow
from data_platform.quality.results import (
    ExpectationOutcome,
    ValidationOutcome,
    excerpt_around,
    expectation_label,
    outcome_from_ge,
    shorten,
)


def _ge_result(success, type_name, kwargs, result=None, exception=None):
    return {
        "success": success,
        "expectation_config": {"type": type_name, "kwargs": {**kwargs, "batch_id": "lake-gold"}},
        "result": result or {},
        "exception_info": exception or {"raised_exception": False},
    }


def test_labels_name_the_columns():
    assert expectation_label("expect_column_values_to_not_be_null", {"column": "text"}) == (
        "expect_column_values_to_not_be_null(text)"
    )
    assert expectation_label("expect_compound_columns_to_be_unique", {"column_list": ["a", "b"]}) == (
        "expect_compound_columns_to_be_unique(a,b)"
    )
    assert expectation_label("expect_table_row_count_to_be_between", {"min_value": 1}) == (
        "expect_table_row_count_to_be_between"
    )


def test_failing_map_expectation_keeps_keyed_examples():
    result = _ge_result(
        False,
        "expect_column_values_to_not_be_null",
        {"column": "language"},
        {
            "element_count": 48,
            "unexpected_count": 2,
            "partial_unexpected_list": [None, None],
            "partial_unexpected_index_list": [
                {"doc_id": "d1", "language": None},
                {"doc_id": "d2", "language": None},
            ],
        },
    )
    outcome = outcome_from_ge(result, "contract", example_count=1, example_chars=40)
    assert not outcome.success
    assert outcome.examples == ("doc_id=d1: null",)
    assert outcome.describe() == (
        "expect_column_values_to_not_be_null(language): 2 of 48 rows unexpected; e.g. doc_id=d1: null"
    )


def test_regex_examples_show_the_match_not_the_file_start():
    text = "x = 1\n" * 50 + "# mail jane@example.com\n"
    result = _ge_result(
        False,
        "expect_column_values_to_not_match_regex_list",
        {"column": "text", "regex_list": [r"[a-z]+@[a-z]+\.com"]},
        {"unexpected_count": 1, "partial_unexpected_list": [text]},
    )
    outcome = outcome_from_ge(result, "semantic", 3, 60)
    # the excerpt is around the match, and the match itself is masked (reports are unrestricted)
    assert "# mail ja…(16 chars)" in outcome.examples[0]
    assert "jane@example.com" not in outcome.examples[0]
    assert len(outcome.examples[0]) <= 61


def test_aggregate_expectation_reports_observed_value_and_errors():
    mismatch = _ge_result(
        False,
        "expect_table_columns_to_match_set",
        {"column_set": ["a", "b"]},
        {"observed_value": ["a", "c"], "details": {"mismatched": {"unexpected": ["c"], "missing": ["b"]}}},
    )
    outcome = outcome_from_ge(mismatch, "contract", 3, 80)
    assert "missing" in outcome.observed and "'b'" in outcome.observed
    broken = _ge_result(
        False,
        "expect_column_values_to_be_unique",
        {"column": "nope"},
        exception={"raised_exception": True, "exception_message": "column nope does not exist"},
    )
    assert "error: column nope does not exist" in outcome_from_ge(broken, "contract", 3, 80).describe()


def test_passing_results_keep_no_examples():
    result = _ge_result(
        True,
        "expect_column_values_to_be_unique",
        {"column": "doc_id"},
        {"unexpected_count": 0, "partial_unexpected_list": []},
    )
    outcome = outcome_from_ge(result, "contract", 3, 80)
    assert outcome.success and outcome.examples == ()


def test_shorten_and_excerpt():
    assert shorten("a\nb", 10) == "a\\nb"
    assert shorten("x" * 20, 5) == "xxxx…"
    assert shorten(None, 5) == "null"
    assert excerpt_around("abc", ["(unclosed"], 10) == "abc"


def _validation(outcomes):
    return ValidationOutcome(
        result_id="r1",
        run_id="run-1",
        table_name="gold.training_corpus",
        table_version=4,
        suite_name="s",
        row_count=10,
        outcomes=outcomes,
        validated_at=datetime(2026, 11, 26, tzinfo=UTC),
        data_docs_path="/lake/_quality/x.html",
    )


def test_row_matches_the_ops_contract_and_counts_failures():
    outcome = _validation(
        [
            ExpectationOutcome("a", True),
            ExpectationOutcome(
                "check:one_split_per_repo(repo_id,split)",
                False,
                "check",
                1,
                unit="repositories",
                examples=("repo_id=r in test,train",),
            ),
        ]
    )
    row = outcome.to_row()
    assert set(row) == set(contract("ops.quality_results").column_names)
    rows_to_arrow("ops.quality_results", [row])  # types and nullability fit the contract
    assert not row["success"] and not row["published"]
    assert (row["evaluated_expectations"], row["successful_expectations"]) == (2, 1)
    assert row["failed_expectations"] == [
        "check:one_split_per_repo(repo_id,split): 1 repositories unexpected; e.g. repo_id=r in test,train"
    ]
    assert outcome.summary_lines()[0].startswith("gold.training_corpus v4: FAILED (1/2 expectations, 10 rows")


def test_success_needs_every_outcome():
    assert _validation([ExpectationOutcome("a", True), ExpectationOutcome("b", True)]).success
    assert not _validation([ExpectationOutcome("a", True), ExpectationOutcome("b", False)]).success


def test_quality_stage_blocks_only_on_unpublished_gold():
    from data_platform.quality.gate import GateResult
    from data_platform.quality.ingest_gates import QualityStageResult, check_ingest_run
    from tests.conftest import make_config

    failed = _validation([ExpectationOutcome("a", False)])
    stage = QualityStageResult(gate=GateResult(failed, None, None), validations=[_validation([])])
    assert not stage.ok
    assert stage.stage_counts() == {
        "quality.gold.training_corpus.failed": 0,
        "quality.gold.failed": 1,
        "quality.gold.published": 0,
        "quality.gold.quarantined": 0,
    }
    assert any("NOT published" in line for line in stage.summary_lines())
    assert QualityStageResult().ok
    disabled = make_config(Path("/nonexistent-lake"), "quality.enabled=false")
    skipped = check_ingest_run(None, disabled, "run-1", {"gold.training_corpus": 3})
    assert skipped.skipped and skipped.ok and "skipped" in skipped.summary_lines()[0]


def test_quarantine_is_reported_with_both_versions():
    from data_platform.quality.gate import GateResult
    from data_platform.quality.quarantine import QuarantineResult

    held = QuarantineResult(
        5,
        rows=2,
        by_expectation={"check:no_pii_left(text)": 1, "expect_column_values_to_be_in_set(language)": 1},
        clean_version=6,
        examples=["src/a.py (abc): check:no_pii_left(text): 1 PII finding(s) left after redaction: email …"],
    )
    clean = _validation([ExpectationOutcome("a", True)])
    clean.table_version, clean.derived_from_version, clean.published = 6, 5, True
    gate = GateResult(clean, None, None, held)
    lines = "\n".join(gate.summary_lines())
    assert "quarantined 2 row(s) of gold.training_corpus v5 to gold.quarantine" in lines
    assert "v6 written without them" in lines and "quarantined: src/a.py" in lines
    assert "1 more" in lines and "published gold.training_corpus v6" in lines
    assert gate.quarantined_rows == 2
    assert [o.label for o in held.outcomes()] == sorted(held.by_expectation)
    assert not any(o.success for o in held.outcomes())
    row = clean.to_row()
    assert row["derived_from_version"] == 5 and row["quarantined_rows"] is None
    assert held.clean_outcomes() is None
    assert QuarantineResult(5, row_checks=("no_pii_left",)).clean_outcomes()["no_pii_left"].success
