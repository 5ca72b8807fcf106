"""A real (tiny) model: held-out loss over a gold table written through the contract, and generation."""

from __future__ import annotations

import math

import pytest

from tests.fixtures.evaluate import fixture_gold_rows, gold_row, tiny_model_dir, write_gold  # noqa: F401
from training.evaluation.generate import SamplingSettings, generate_completions
from training.evaluation.heldout import HeldoutSettings, heldout_loss, stream_documents
from training.evaluation.precision import BFLOAT16, compute_in
from training.evaluation.problems import load_problems

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):  # noqa: F811
    from training.model import load_model_and_tokenizer

    return load_model_and_tokenizer(str(tiny_model_dir))


def test_finite_loss_per_language_on_valid_and_test_only(lake_config, tiny):
    model, tokenizer = tiny
    version = write_gold(lake_config, fixture_gold_rows())
    path = lake_config.lake.table_path("gold.training_corpus")
    result = heldout_loss(model, tokenizer, path, version, HeldoutSettings(batch_size=4, max_tokens=64))
    summary = result.summary()
    assert set(summary) == {"python", "javascript", "all"}
    for language, values in summary.items():
        assert math.isfinite(values["loss"]) and values["loss"] > 0, language
        assert values["perplexity"] == pytest.approx(math.exp(values["loss"]))
    # 3 valid + 3 test documents per language; the 3 train documents are never scored.
    assert summary["python"]["documents"] == summary["javascript"]["documents"] == 6
    assert summary["all"]["tokens"] == summary["python"]["tokens"] + summary["javascript"]["tokens"]


def test_reads_the_requested_version_and_caps_documents(lake_config, tiny):
    model, tokenizer = tiny
    first = write_gold(lake_config, fixture_gold_rows())
    write_gold(lake_config, [gold_row("rs-valid-0", "rust", "fn main() {}\n", "valid")])
    path = lake_config.lake.table_path("gold.training_corpus")
    assert {language for language, _ in stream_documents(path, first, ["valid"])} == {"python", "javascript"}
    capped = heldout_loss(model, tokenizer, path, first + 1, HeldoutSettings(("valid",), max_documents=2))
    assert {lang: one.documents for lang, one in capped.languages.items()} == {
        "python": 2,
        "javascript": 2,
        "rust": 1,
    }


def test_batching_does_not_change_the_loss(lake_config, tiny):
    model, tokenizer = tiny
    version = write_gold(lake_config, fixture_gold_rows())
    path = lake_config.lake.table_path("gold.training_corpus")
    one = heldout_loss(
        model, tokenizer, path, version, HeldoutSettings(batch_size=1, max_tokens=48)
    ).summary()
    many = heldout_loss(
        model, tokenizer, path, version, HeldoutSettings(batch_size=5, max_tokens=48)
    ).summary()
    assert one["all"]["tokens"] == many["all"]["tokens"]
    assert one["all"]["loss"] == pytest.approx(many["all"]["loss"], rel=1e-4)


def test_bfloat16_products_keep_the_loss_to_a_fraction_of_a_percent(lake_config, tiny):
    # eval.heldout_precision=bfloat16 (the default on AMX CPUs) must not move the loss enough
    # to change a comparison: the reductions stay float32 under autocast.
    model, tokenizer = tiny
    version = write_gold(lake_config, fixture_gold_rows())
    path = lake_config.lake.table_path("gold.training_corpus")
    settings = HeldoutSettings(batch_size=4, max_tokens=64)
    exact = heldout_loss(model, tokenizer, path, version, settings).summary()
    with compute_in(BFLOAT16, "cpu"):
        fast = heldout_loss(model, tokenizer, path, version, settings).summary()
    assert fast["all"]["tokens"] == exact["all"]["tokens"]
    assert fast["all"]["loss"] != exact["all"]["loss"]  # bf16 really ran
    assert fast["all"]["loss"] == pytest.approx(exact["all"]["loss"], rel=5e-3)


def test_greedy_gives_one_deterministic_completion_and_sampling_gives_n(tiny):
    model, tokenizer = tiny
    problems = load_problems("humaneval")[:3]
    greedy = SamplingSettings(samples=4, temperature=0.0, max_new_tokens=12, batch_size=2)
    first = generate_completions(model, tokenizer, problems, greedy)
    assert first == generate_completions(model, tokenizer, problems, greedy)
    assert list(first) == [p.task_id for p in problems] and all(len(v) == 1 for v in first.values())
    sampled = generate_completions(
        model,
        tokenizer,
        problems,
        SamplingSettings(samples=3, temperature=1.0, max_new_tokens=12, batch_size=4),
    )
    assert all(len(v) == 3 for v in sampled.values())
    assert all(isinstance(c, str) for v in sampled.values() for c in v)
