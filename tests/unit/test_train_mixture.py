"""train.mixture: per-kind token shares from deterministic per-document copies."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from training.mixture import copies, mix_batch, mixture_rates, realised_shares

SHARES = {"code": 0.8, "docs": 0.1, "qa": 0.1}


def _corpus(seed: int = 7) -> list[tuple[str, str, int]]:
    """A gold split dominated by code: 3,000 code files, 400 doc sections, 250 Q&A threads."""
    rng = random.Random(seed)
    rows = [(f"code-{i}", "code", rng.randint(50, 3000)) for i in range(3000)]
    rows += [(f"docs-{i}", "docs", rng.randint(30, 600)) for i in range(400)]
    rows += [(f"qa-{i}", "qa", rng.randint(80, 900)) for i in range(250)]
    return rows


def _kind_tokens(rows):
    totals: dict[str, int] = {}
    for _doc, kind, count in rows:
        totals[kind] = totals.get(kind, 0) + count
    return totals


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realised_token_shares_are_within_two_points_of_the_mixture(seed):
    rows = _corpus()
    totals = _kind_tokens(rows)
    assert totals["docs"] / sum(totals.values()) < 0.05  # docs are scarce: they must be repeated
    rates = mixture_rates(totals, SHARES)
    assert rates["docs"] > 1 > rates["code"]
    realised = realised_shares(rows, rates, seed)
    for kind, share in SHARES.items():
        assert abs(realised["shares"][kind] - share) <= 0.02, (kind, realised)
    assert abs(realised["tokens"] - sum(totals.values())) / sum(totals.values()) < 0.05  # the epoch keeps its size


def test_copies_are_deterministic_and_average_to_the_rate():
    assert [copies("doc-1", 2.0, 0), copies("doc-1", 0.0, 0)] == [2, 0]
    draws = [copies(f"d{i}", 1.25, 3) for i in range(20_000)]
    assert set(draws) == {1, 2} and abs(sum(draws) / len(draws) - 1.25) < 0.01
    assert draws == [copies(f"d{i}", 1.25, 3) for i in range(20_000)]


def test_mix_batch_repeats_with_distinct_ids_and_drops_unlisted_kinds():
    batch = pa.table({"doc_id": ["a", "b", "c"], "text": ["A", "B", "C"], "source_kind": ["docs", None, "notebook"]})
    mixed = mix_batch(batch, {"docs": 3.0, "code": 1.0}, seed=0)
    assert mixed.column("doc_id").to_pylist() == ["a", "a#copy2", "a#copy3", "b"]  # None reads as code
    assert mixed.column("text").to_pylist() == ["A", "A", "A", "B"]


def test_a_kind_the_gold_version_lacks_is_refused_with_what_it_has():
    with pytest.raises(ValueError, match=r"asks for qa but .* \(it has: code, docs\)"):
        mixture_rates({"code": 100, "docs": 10}, SHARES)


def test_the_setting_takes_known_kinds_with_shares_summing_to_one():
    from pydantic import ValidationError

    from training.settings import TrainSettings

    assert TrainSettings(mixture={"code": 0.8, "docs": 0.1, "qa": 0.1}).mixture == SHARES
    with pytest.raises(ValidationError, match="sum to 1"):
        TrainSettings(mixture={"code": 0.8, "docs": 0.1})
    with pytest.raises(ValidationError):
        TrainSettings(mixture={"code": 0.5, "tweets": 0.5})
