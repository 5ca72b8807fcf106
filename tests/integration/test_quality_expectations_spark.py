"""The expectations and checks that need Spark fail on crafted bad batches.

* type expectations (Spark type classes) and the column set, for every table's suite, on an
  empty DataFrame whose columns all have the wrong type and one column missing;
* the cross-row and row-level checks of gold (a repository in two splits, empty splits, a
  skewed split, PII left, a pasted benchmark solution);
* the quarantine's Spark conditions select exactly the rows Great Expectations flags.
"""

from __future__ import annotations

import pytest

from data_platform.contracts import all_contracts, contract
from data_platform.quality.checks import run_checks
from data_platform.quality.row_rules import can_quarantine, rule_violations
from data_platform.quality.suites import CheckSpec, build_suite
from tests.conftest import make_config
from tests.fixtures.expectations import GOOD_ROWS, good_rows, violate

pytestmark = pytest.mark.integration

WRONG_TYPE = {"string": "bigint"}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return make_config(tmp_path_factory.mktemp("lake"), "quality.languages=[python,go]")


@pytest.fixture(scope="module")
def spark_validate(spark):
    from data_platform.quality.gx_runner import ge_expectation, import_gx
    from data_platform.quality.results import expectation_label

    gx = import_gx()
    context = gx.get_context(mode="ephemeral")
    batch = context.data_sources.add_spark("s").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
    names = iter(range(1000))

    def run(specs, df):
        name = f"s{next(names)}"
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=[ge_expectation(s.type, s.kwargs) for s in specs]))
        result = gx.ValidationDefinition(name=name, data=batch, suite=suite).run(
            batch_parameters={"dataframe": df}, result_format="SUMMARY"
        )
        return {
            expectation_label(r.expectation_config.type, {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}): r
            for r in result.results
        }

    return run


@pytest.mark.parametrize("table", list(all_contracts()))
def test_types_and_column_set_fail_when_every_column_has_the_wrong_type(spark, config, spark_validate, table):
    columns = contract(table).columns
    ddl = ", ".join(f"`{c.name}` {WRONG_TYPE.get(c.type, 'string')}" for c in columns[:-1])
    df = spark.createDataFrame([], ddl)
    specs = [
        s
        for s in build_suite(table, config).expectations
        if s.type == "expect_column_values_to_be_of_type" and s.kwargs["column"] != columns[-1].name
    ]
    specs += [s for s in build_suite(table, config).expectations if s.type == "expect_table_columns_to_match_set"]
    results = spark_validate(specs, df)
    failed = {label for label, r in results.items() if not r.success}
    assert failed == {s.label for s in specs}


def _gold(spark, rows):
    from tests.fixtures.quality import _nullable_schema

    return spark.createDataFrame(rows, schema=_nullable_schema("gold.training_corpus"))


def test_gold_checks_fail_on_crafted_batches(spark, config):
    from data_platform.decontaminate import humaneval_items
    from tests.fixtures.quality import gold_rows

    checks = tuple(build_suite("gold.training_corpus", config).checks)
    rows = gold_rows()
    assert all(o.success for o in run_checks(_gold(spark, rows), checks, config)[0])

    bad = [dict(r) for r in rows]
    bad[1]["split"] = "train"  # repo-00 (test) now in two splits
    bad[4]["text"] = "SENTRY = 'https://user%3Aname:%23%40%5E@corp-mail.io/1'\n"
    item = humaneval_items()[3]
    bad[6]["text"] = item.prompt + item.solution
    outcomes = {o.label: o for o in run_checks(_gold(spark, bad), checks, config)[0]}
    assert not outcomes["check:one_split_per_repo(repo_id,split)"].success
    assert outcomes["check:no_pii_left(text)"].unexpected_count == 1
    assert "corp-mail" not in outcomes["check:no_pii_left(text)"].describe()
    assert outcomes["check:no_benchmark_contamination(text)"].unexpected_count == 1
    assert "HumanEval/3" in outcomes["check:no_benchmark_contamination(text)"].describe()

    # 24 repositories, half in train and half in valid: test empty, shares far from the configuration
    skewed = [dict(r, split="train" if int(r["repo_id"][-2:]) % 2 else "valid") for r in rows]
    outcomes = {o.label: o for o in run_checks(_gold(spark, skewed), checks, config)[0]}
    assert not outcomes["check:splits_not_empty(split)"].success
    assert not outcomes["check:split_fractions_near_config(repo_id,split)"].success


def test_few_repositories_leave_splits_empty_without_failing(spark, config):
    from tests.fixtures.quality import gold_rows

    two_repos = [dict(r, split="train") for r in gold_rows() if r["repo_id"] in ("repo-05", "repo-06")]
    checks = (CheckSpec("splits_not_empty"),)
    outcomes, notes = run_checks(_gold(spark, two_repos), checks, config)
    assert outcomes[0].success and "gold.split_by=file" in notes[0]
    file_config = make_config(config.lake.root, "gold.split_by=file")
    outcomes, notes = run_checks(_gold(spark, two_repos), (CheckSpec("one_split_per_repo"),), file_config)
    assert outcomes == [] and "split_by=file" in notes[0]


def test_quarantine_conditions_select_the_rows_great_expectations_flags(spark, config, spark_validate):
    specs = [s for s in build_suite("gold.training_corpus", config).expectations if can_quarantine(s)]
    assert {s.label for s in specs} >= {
        "expect_column_values_to_be_in_set(language)",
        "expect_column_values_to_be_in_set(license_class)",
        "expect_column_values_to_be_between(token_count)",
        "expect_column_values_to_not_be_null(text)",
    }
    all_specs = build_suite("gold.training_corpus", config).expectations
    rows = good_rows("gold.training_corpus", [s for s in all_specs if s.type != "expect_column_values_to_be_of_type"],
                     GOOD_ROWS + len(specs))
    for k, spec in enumerate(specs):
        violate("gold.training_corpus", spec, rows[GOOD_ROWS + k], rows[0])
    df = _gold(spark, rows)
    selected = {}
    for row in rule_violations(df, specs).collect():
        selected.setdefault(row.expectation, set()).add(row.doc_id)
    ge = spark_validate(specs, df)
    for k, spec in enumerate(specs):
        assert selected[spec.label] == {rows[GOOD_ROWS + k]["doc_id"]}, spec.label
        assert ge[spec.label].result["unexpected_count"] == 1, spec.label


# A bad row per source table: what a broken reader would write (a page path outside the tree,
# a language missing for a code block; a licence the date rule never gives, one score short).
SOURCE_TABLE_DEFECTS = {
    "silver.doc_sections": (
        {"page": "../outside.html", "code_blocks": ["print(1)", "x = 2"], "code_languages": ["python"]},
        {"expect_column_values_to_not_match_regex_list(page)", "check:one_language_per_code_block(code_blocks,code_languages)"},
    ),
    "silver.qa_threads": (
        {"license_spdx": "MIT", "answers": ["a", "b"], "answer_scores": [3]},
        {"expect_column_values_to_be_in_set(license_spdx)", "check:one_score_per_answer(answers,answer_scores)"},
    ),
}


def _source_rows(table: str, config) -> list[dict]:
    specs = [s for s in build_suite(table, config).expectations if s.type != "expect_column_values_to_be_of_type"]
    rows = good_rows(table, specs)
    for row in rows:  # the fixture's arrays are one string each; paired arrays must line up
        if table == "silver.doc_sections":
            row["code_languages"] = [None]
        else:
            row["answer_scores"] = [7]
    return rows


def test_source_tables_suites_fail_on_a_bad_row_and_the_report_shows_them(spark, tmp_path):
    """silver.doc_sections and silver.qa_threads: real GE on Spark fails each table's suite on one
    bad row with exactly the broken expectations and checks, and the HTML report lists both."""
    from data_platform.quality import build_report
    from data_platform.quality.validate import record, validate_dataframe
    from tests.fixtures.quality import _nullable_schema

    config = make_config(tmp_path / "lake", "quality.report_profile=false")
    for table, (defect, broken) in SOURCE_TABLE_DEFECTS.items():
        rows = _source_rows(table, config)
        rows[1].update(defect)
        bad = validate_dataframe(spark, config, table, spark.createDataFrame(rows, _nullable_schema(table)), 1, "src")
        # Exactly the broken ones fail: every other expectation (types, keys, patterns) passed on these rows.
        assert {o.label for o in bad.failures} == broken, [o.describe() for o in bad.failures]
        assert len(bad.outcomes) > len(broken) + 10
        assert all(o.unexpected_count == 1 for o in bad.failures)
        record(config, bad)
    report = build_report(spark, config, "src").read_text()
    for table, (_defect, broken) in SOURCE_TABLE_DEFECTS.items():
        assert table in report and all(label in report for label in broken)
