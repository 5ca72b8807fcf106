"""Gold: repository split assignment and token counting (pure parts)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from pydantic import ValidationError

from data_platform.gold import SplitAssignment, assign_splits, count_tokens, next_split, repo_fraction
from data_platform.settings.refine import GoldSettings

RATIOS = {"train": 0.9, "valid": 0.05, "test": 0.05}


def _fractions(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.random() for _ in range(n)]


def test_every_split_gets_data_as_soon_as_there_are_as_many_repositories():
    assert assign_splits(_fractions(1), {}, RATIOS) == ["train"]
    two = assign_splits(_fractions(2), {}, RATIOS)
    assert two[0] == "train" and two[1] in {"valid", "test"}
    for seed in range(20):
        assert set(assign_splits(_fractions(3, seed), {}, RATIOS)) == set(RATIOS)
    # ten repositories, the case that left valid and test empty with a hash split
    assert set(Counter(assign_splits(_fractions(10), {}, RATIOS))) == set(RATIOS)


def test_ties_between_splits_are_broken_by_the_repository_hash():
    assert next_split({"train": 1}, RATIOS, 0.1) == "valid"
    assert next_split({"train": 1}, RATIOS, 0.9) == "test"
    # equal ratios, equal counts: the hash decides among all three
    even = {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
    assert {next_split({"a": 2, "b": 2, "c": 2}, even, f) for f in (0.1, 0.5, 0.9)} == {"a", "b", "c"}


def test_new_repositories_go_to_the_split_furthest_below_its_ratio():
    assert next_split({"train": 8, "valid": 1, "test": 1}, RATIOS, 0.5) == "train"
    assert next_split({"train": 40, "valid": 1, "test": 3}, RATIOS, 0.5) == "valid"


def test_shares_converge_to_the_ratios_and_zero_ratio_splits_stay_empty():
    counts = Counter(assign_splits(_fractions(1000), {}, RATIOS))
    assert abs(counts["train"] - 900) <= 2 and abs(counts["valid"] - 50) <= 2 and abs(counts["test"] - 50) <= 2
    none_for_test = assign_splits(_fractions(50), {}, {"train": 0.8, "valid": 0.2, "test": 0.0})
    assert "test" not in none_for_test and "valid" in none_for_test


def test_assigning_in_two_runs_equals_assigning_at_once():
    fractions = _fractions(30, seed=3)
    at_once = assign_splits(fractions, {}, RATIOS)
    counts: dict[str, int] = {}
    first = assign_splits(fractions[:12], counts, RATIOS)
    assert first + assign_splits(fractions[12:], counts, RATIOS) == at_once


def test_run_summary_note_says_how_to_get_a_file_level_split():
    assert SplitAssignment("repository", repositories=3, splits=3).note() is None
    note = SplitAssignment("repository", repositories=2, splits=3).note()
    assert "only 2 repositories" in note and "gold.split_by=file" in note
    assert SplitAssignment("file", repositories=1, splits=3).note() is None


def test_salted_hash_is_in_unit_interval_and_depends_on_salt():
    assert 0 <= repo_fraction("r", "a") < 1
    assert sum(repo_fraction(f"r{i}", "a") != repo_fraction(f"r{i}", "b") for i in range(50)) == 50


def test_ratios_must_sum_to_one_and_split_by_is_checked():
    with pytest.raises(ValidationError):
        GoldSettings(split_ratios={"train": 0.9, "test": 0.2})
    with pytest.raises(ValidationError):
        GoldSettings(split_by="directory")
    assert GoldSettings().split_by == "repository"


def test_offline_token_counter_and_tokenizer_json(tmp_path):
    assert count_tokens(["def f(x):\n    return x + 1\n"]) == [10]
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "def": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    assert count_tokens(["def f ( x )"], str(path)) == [5]
    with pytest.raises(ValueError, match="gold.tokenizer"):
        count_tokens(["x"], str(tmp_path / "missing.json"))
