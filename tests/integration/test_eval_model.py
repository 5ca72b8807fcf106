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


def test_documents_are_scored_in_batches_of_similar_length(lake_config, tiny):
    # Table order alternates long and short documents; scored in that order every batch would
    # pad to a long one. The forward passes the model sees are length-sorted instead.
    model, tokenizer = tiny
    long_text, short_text = "def f(x):\n    return x + 1\n" * 12, "x = 1\n"
    rows = [gold_row(f"d{i}", "python", long_text if i % 2 == 0 else short_text, "valid") for i in range(8)]
    version = write_gold(lake_config, rows)
    path = lake_config.lake.table_path("gold.training_corpus")
    widths: list[tuple[int, int]] = []
    hook = model.register_forward_pre_hook(
        lambda _module, _args, kwargs: widths.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    try:
        sorted_result = heldout_loss(model, tokenizer, path, version, HeldoutSettings(batch_size=4, max_tokens=64))
    finally:
        hook.remove()
    long_ids = len(tokenizer(long_text, truncation=True, max_length=64)["input_ids"])
    short_ids = len(tokenizer(short_text)["input_ids"])
    assert widths == [(4, long_ids), (4, short_ids)]
    one_by_one = heldout_loss(model, tokenizer, path, version, HeldoutSettings(batch_size=1, max_tokens=64))
    assert sorted_result.summary()["python"]["tokens"] == 4 * (long_ids - 1) + 4 * (short_ids - 1)
    assert sorted_result.summary()["python"]["loss"] == pytest.approx(one_by_one.summary()["python"]["loss"], rel=1e-4)


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
