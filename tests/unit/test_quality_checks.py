"""The split-fraction comparison behind the cross-row gold check."""

from __future__ import annotations

from data_platform.quality.checks import compare_split_fractions, empty_splits

EXPECTED = {"train": 0.9, "valid": 0.05, "test": 0.05}


def test_shares_near_config_pass():
    result = compare_split_fractions({"train": 88, "valid": 6, "test": 6}, EXPECTED, 0.1, 20)
    assert result.success and result.enforced and not result.deviations
    assert abs(result.observed["train"] - 0.88) < 1e-9


def test_skewed_shares_fail_when_enough_repositories():
    result = compare_split_fractions({"train": 50, "valid": 25, "test": 25}, EXPECTED, 0.1, 20)
    assert not result.success
    assert set(result.deviations) == {"train", "valid", "test"}
    assert result.deviations["train"] == -0.4


def test_few_repositories_are_reported_not_enforced():
    result = compare_split_fractions({"train": 1, "test": 1}, EXPECTED, 0.1, 20)
    assert result.success and not result.enforced and result.deviations


def test_missing_and_unexpected_splits_count():
    missing = compare_split_fractions({"train": 100}, EXPECTED, 0.04, 20)
    assert missing.observed["valid"] == 0.0 and "valid" in missing.deviations
    extra = compare_split_fractions({"train": 80, "valid": 5, "test": 5, "holdout": 10}, EXPECTED, 0.05, 20)
    assert not extra.success and "holdout" in extra.deviations


def test_empty_table_does_not_divide_by_zero():
    result = compare_split_fractions({}, EXPECTED, 0.1, 1)
    assert result.observed == {"train": 0.0, "valid": 0.0, "test": 0.0}


def test_empty_splits_are_enforced_once_there_are_as_many_repositories_as_splits():
    assert empty_splits({"train": 10}, EXPECTED, 10) == (True, ["valid", "test"])
    assert empty_splits({"train": 1, "valid": 1}, EXPECTED, 2) == (False, ["test"])
    assert empty_splits({"train": 2, "valid": 1, "test": 1}, EXPECTED, 4) == (True, [])
    # a split with ratio 0 may stay empty
    assert empty_splits({"train": 5, "valid": 1}, {"train": 0.8, "valid": 0.2, "test": 0.0}, 6) == (True, [])
