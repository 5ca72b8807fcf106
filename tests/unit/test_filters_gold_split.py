"""Gold: repository-level split and token counting (pure parts)."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from data_platform.gold import count_tokens, repo_fraction, split_for_repo
from data_platform.settings.refine import GoldSettings


def test_split_depends_only_on_repository_and_follows_ratios():
    settings = GoldSettings()
    splits = Counter(split_for_repo(f"repo-{i}", settings) for i in range(20_000))
    assert set(splits) == {"train", "valid", "test"}
    assert abs(splits["train"] / 20_000 - 0.9) < 0.01 and abs(splits["test"] / 20_000 - 0.05) < 0.01
    assert all(split_for_repo("repo-7", settings) == split_for_repo("repo-7", settings) for _ in range(3))


def test_salt_reshuffles_and_fraction_is_in_unit_interval():
    assert 0 <= repo_fraction("r", "a") < 1
    moved = sum(
        split_for_repo(f"r{i}", GoldSettings()) != split_for_repo(f"r{i}", GoldSettings(split_salt="x"))
        for i in range(500)
    )
    assert moved > 0


def test_ratios_must_sum_to_one():
    with pytest.raises(ValidationError):
        GoldSettings(split_ratios={"train": 0.9, "test": 0.2})


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
