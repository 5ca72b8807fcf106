"""Suites derived from the contracts and the semantic files (no GE, no Spark)."""

from __future__ import annotations

import pytest

from data_platform.contracts import all_contracts, contract
from data_platform.quality.suites import (
    EXPECTATIONS_DIR,
    SuiteError,
    allowed_languages,
    build_suite,
    contract_expectations,
    expected_split_fractions,
    semantic_expectations,
    spark_type_class,
)
from tests.conftest import make_config


@pytest.fixture()
def config(tmp_path):
    return make_config(tmp_path / "lake")


def test_contract_suite_covers_columns_types_nulls_and_key():
    gold = contract("gold.training_corpus")
    specs = contract_expectations(gold)
    labels = [spec.label for spec in specs]
    assert specs[0].type == "expect_table_columns_to_match_set"
    assert specs[0].kwargs == {"column_set": gold.column_names, "exact_match": True}
    assert sum(spec.type == "expect_column_values_to_be_of_type" for spec in specs) == len(gold.columns)
    required = {c.name for c in gold.columns if not c.nullable}
    not_null = {spec.column for spec in specs if spec.type == "expect_column_values_to_not_be_null"}
    assert not_null == required and "license_spdx" not in not_null
    assert "expect_column_values_to_be_unique(doc_id)" in labels


def test_compound_key_becomes_compound_uniqueness():
    specs = contract_expectations(contract("bronze.repos"))
    compound = [s for s in specs if s.type == "expect_compound_columns_to_be_unique"]
    assert compound and compound[0].kwargs == {"column_list": ["repo_id", "commit_sha"]}


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        ("string", "StringType"),
        ("bigint", "LongType"),
        ("int", "IntegerType"),
        ("array<string>", "ArrayType"),
        ("map<string,bigint>", "MapType"),
        ("timestamp", "TimestampType"),
        ("binary", "BinaryType"),
    ],
)
def test_spark_type_classes(type_name, expected):
    assert spark_type_class(type_name) == expected


def test_every_contract_table_builds_a_suite(config):
    for name in all_contracts():
        suite = build_suite(name, config)
        assert suite.expectations and "." not in suite.name


def test_gold_semantics_resolve_config_parameters(tmp_path):
    config = make_config(tmp_path / "lake", "quality.languages=[python,rust]")
    suite = build_suite("gold.training_corpus", config)
    by_label = {spec.label: spec for spec in suite.expectations}
    assert by_label["expect_column_values_to_be_in_set(language)"].kwargs["value_set"] == ["python", "rust"]
    # gold holds only what the license policy lets through (not every class silver knows);
    # attributed: CC BY-SA Q&A threads, admitted by default because their attribution is kept
    assert by_label["expect_column_values_to_be_in_set(license_class)"].kwargs["value_set"] == ["permissive",
                                                                                               "attributed"]
    # PII is checked by the redactor's own detector (a check), not by a second regex set
    assert not any(label.startswith("expect_column_values_to_not_match_regex_list(text)") for label in by_label)
    assert by_label["expect_column_values_to_be_unique(exact_dup_key)"].source == "semantic"
    assert by_label["expect_column_values_to_be_between(token_count)"].kwargs == {
        "column": "token_count",
        "min_value": 1,
    }
    assert [check.name for check in suite.checks] == [
        "no_pii_left",
        "no_benchmark_contamination",
        "one_split_per_repo",
        "splits_not_empty",
        "split_fractions_near_config",
    ]


def test_row_and_table_scopes(config):
    suite = build_suite("gold.training_corpus", config)
    scopes = {spec.label: spec.scope for spec in suite.expectations}
    assert scopes["expect_column_values_to_be_in_set(language)"] == "row"
    assert scopes["expect_column_values_to_not_be_null(text)"] == "row"
    assert scopes["expect_column_values_to_be_unique(doc_id)"] == "table"
    assert scopes["expect_table_row_count_to_be_between"] == "table"
    assert scopes["expect_column_values_to_be_of_type(text)"] == "table"
    checks = {check.name: check.scope for check in suite.checks}
    assert checks["no_pii_left"] == checks["no_benchmark_contamination"] == "row"
    assert checks["one_split_per_repo"] == checks["splits_not_empty"] == "table"


def test_license_classes_follow_the_filter_policy(tmp_path):
    config = make_config(tmp_path / "lake", "filters.allowed_license_classes=[permissive]",
                         "filters.admit_attributed_qa=false")
    suite = build_suite("gold.training_corpus", config)
    by_label = {spec.label: spec for spec in suite.expectations}
    assert by_label["expect_column_values_to_be_in_set(license_class)"].kwargs["value_set"] == ["permissive"]
    # Attributed Q&A threads (CC BY-SA) reach gold by default, with their class.
    qa = build_suite("gold.training_corpus", make_config(tmp_path / "lake", "filters.allowed_license_classes=[permissive]"))
    value_set = {s.label: s for s in qa.expectations}["expect_column_values_to_be_in_set(license_class)"]
    assert value_set.kwargs["value_set"] == ["permissive", "attributed"]


def test_silver_and_bronze_semantics(config):
    silver = {s.label: s for s in build_suite("silver.files", config).expectations}
    assert silver["expect_column_values_to_be_between(dup_cluster_size)"].kwargs["min_value"] == 1
    assert silver["expect_column_values_to_be_in_set(license_class)"].kwargs["value_set"] == [
        "permissive",
        "non_permissive",
        "none",
        "attributed",
    ]
    bronze = {s.label: s for s in build_suite("bronze.files", config).expectations}
    assert "expect_compound_columns_to_be_unique(repo_id,commit_sha,path)" in bronze
    assert "expect_column_values_to_not_match_regex_list(path)" in bronze


def test_path_patterns_flag_absolute_and_escaping_paths(config):
    import re

    bronze = {s.label: s for s in build_suite("bronze.files", config).expectations}
    patterns = bronze["expect_column_values_to_not_match_regex_list(path)"].kwargs["regex_list"]

    def flagged(path):
        return any(re.search(p, path) for p in patterns)

    assert not any(flagged(p) for p in ["src/a.py", "a..b/c.py", ".github/x.yml", "__init__.py"])
    assert all(flagged(p) for p in ["/etc/passwd", "C:/x.py", "a/../../b", "..", "dir\\file.py"])


def test_semantic_file_errors_are_one_line(tmp_path):
    (tmp_path / "gold.training_corpus.yaml").write_text(
        "expectations:\n  - type: expect_column_values_to_be_in_set\n"
        "    kwargs: {column: language, value_set: {param: nope}}\n"
    )
    with pytest.raises(SuiteError, match="unknown parameter 'nope'"):
        semantic_expectations("gold.training_corpus", {"languages": []}, tmp_path)
    (tmp_path / "silver.files.yaml").write_text("checks: [no_such_check]\n")
    with pytest.raises(SuiteError, match="unknown check"):
        semantic_expectations("silver.files", {}, tmp_path)


def test_semantic_expectation_on_unknown_column_is_rejected(tmp_path, config):
    (tmp_path / "gold.training_corpus.yaml").write_text(
        "expectations:\n  - type: expect_column_values_to_be_unique\n    kwargs: {column: no_such_column}\n"
    )
    with pytest.raises(SuiteError, match="no_such_column"):
        build_suite("gold.training_corpus", config, tmp_path)


def test_semantic_files_name_real_tables():
    names = set(all_contracts())
    for path in EXPECTATIONS_DIR.glob("*.yaml"):
        assert path.stem in names, path.name


def test_languages_and_split_fractions_come_from_config(tmp_path):
    default = make_config(tmp_path / "a")
    assert "python" in allowed_languages(default) and "cpp" in allowed_languages(default)
    # canonical ids only: aliases curation never assigns are outside the set
    assert not {"py", "Python", "python3", "c++"} & set(allowed_languages(default))
    assert expected_split_fractions(default) == {"train": 0.9, "valid": 0.05, "test": 0.05}
    custom = make_config(tmp_path / "b", "quality.split_fractions={train: 0.8, valid: 0.1, test: 0.1}")
    assert expected_split_fractions(custom)["train"] == 0.8


def test_an_expectation_listed_twice_is_rejected(tmp_path, config):
    (tmp_path / "gold.training_corpus.yaml").write_text(
        "expectations:\n  - type: expect_column_values_to_not_be_null\n    kwargs: {column: text}\n"
    )
    with pytest.raises(SuiteError, match="listed twice: expect_column_values_to_not_be_null\\(text\\)"):
        build_suite("gold.training_corpus", config, tmp_path)
