"""Inference prompts built like training's (training.prompting) and their limits (serving.prompts)."""

import numpy as np
import pytest

from serving.api.errors import ApiError
from serving.model_source import ServedModel
from serving.prompts import check_length, completion_plan, stop_token_ids
from serving.settings import ServeSettings
from training.fim import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, FimTokenIds, apply_fim, fim_lineage
from training.model import train_tiny_tokenizer
from training.prompting import FimFormat, fim_prompt_ids, pack_extra_context

CODE = "def area(r):\n    return 3.14 * r * r\n\n\ndef perimeter(r):\n    return 2 * 3.14 * r\n" * 4


@pytest.fixture(scope="module")
def tokenizer():
    return train_tiny_tokenizer([CODE * 20, "import os\nimport sys\n" * 50], vocab_size=400)


def test_fim_format_comes_from_lineage_not_vocabulary():
    assert FimFormat.from_lineage({"run_id": "r", "fim": fim_lineage(0.5, 0.0)}).order == "psm"
    assert FimFormat.from_lineage({"run_id": "r", "fim": fim_lineage(0.5, 0.9)}).order == "spm"
    assert FimFormat.from_lineage({"run_id": "r", "fim": fim_lineage(0.0, 0.5)}) is None
    old = {"run_id": "r", "config": {"train": {"fim_rate": 0.3, "fim_spm_rate": 0.5}}}  # before lineage["fim"]
    assert FimFormat.from_lineage(old).order == "psm"
    assert FimFormat.from_lineage(None) is None and FimFormat.from_lineage({"run_id": "r"}) is None


@pytest.mark.parametrize("order, spm_rate", [("psm", 0.0), ("spm", 1.0)])
def test_fim_prompt_is_the_training_layout_up_to_the_middle(tokenizer, order, spm_rate):
    """apply_fim (training) on prefix+middle+suffix tokens starts with exactly our prompt."""
    prefix, middle, suffix = "def area(r):\n    return", " 3.14 * r * r", "\n\n\ndef perimeter(r):\n"
    ids = {part: tokenizer(part, add_special_tokens=False)["input_ids"] for part in (prefix, middle, suffix)}
    document = ids[prefix] + ids[middle] + ids[suffix]
    fim = FimTokenIds.from_tokenizer(tokenizer)
    for seed in range(500):  # find the random cut that training would make at these boundaries
        rng = np.random.default_rng(seed)
        rng.random()  # apply_fim's first draw: whether to transform at all
        low, high = sorted(rng.integers(0, len(document) + 1, size=2))
        if (low, high) == (len(ids[prefix]), len(ids[prefix]) + len(ids[middle])):
            break
    else:
        pytest.skip("no seed reproduces the cut")
    trained = apply_fim(document, fim, np.random.default_rng(seed), rate=1.0, spm_rate=spm_rate)
    prompt = fim_prompt_ids(tokenizer, FimFormat(order=order), prefix, suffix)
    assert trained[: len(prompt)] == prompt
    assert prompt.count(tokenizer.convert_tokens_to_ids(FIM_MIDDLE)) == 1


def test_extra_context_is_packed_nearest_last_within_the_budget(tokenizer):
    items = [("near.py", "def near():\n    pass\n"), ("mid.js", "function mid() {}\n"), ("far.py", "x = 1\n" * 400)]
    packed = pack_extra_context(tokenizer, items, budget_tokens=120)
    assert packed.paths == ("far.py", "mid.js", "near.py")[-len(packed.paths):]
    assert packed.text.endswith("# near.py\ndef near():\n    pass\n\n")
    assert "// mid.js\n" in packed.text
    assert packed.tokens == len(tokenizer(packed.text)["input_ids"]) <= 120 and packed.tokens > 100
    assert packed.truncated == ("far.py",)
    assert pack_extra_context(tokenizer, items, budget_tokens=0).paths == ()


def _served(fim: FimFormat | None) -> ServedModel:
    return ServedModel(id="m", load_spec="m", chosen_because="test", fim=fim, fim_unavailable_reason="no lineage")


def test_completion_plan_fim_fallback_and_errors(tokenizer):
    settings = ServeSettings()
    plan = completion_plan(tokenizer, _served(FimFormat(order="psm")), settings, "def f(", suffix="):",
                           mode="auto", stop=(), extra_context=None, language=None)
    assert plan.fim == "psm" and plan.ids[0] == tokenizer.convert_tokens_to_ids(FIM_PREFIX)
    assert tokenizer.convert_tokens_to_ids(FIM_SUFFIX) in plan.ids
    with pytest.raises(ApiError) as raised:
        completion_plan(tokenizer, _served(None), settings, "def f(", suffix="):", mode="none", stop=(),
                        extra_context=None, language=None)
    assert raised.value.status == 400 and raised.value.code == "fim_not_supported"
    fallback = ServeSettings(fim_fallback="prefix_only")
    plan = completion_plan(tokenizer, _served(None), fallback, "def f(", suffix="):", mode="none", stop=(),
                           extra_context=None, language=None)
    assert plan.fim == "prefix_only" and plan.ids == tokenizer("def f(", add_special_tokens=False)["input_ids"]
    assert plan.context.suffix == "):"  # still used to trim what repeats the suffix


def test_length_check_reports_token_counts():
    settings = ServeSettings(max_prompt_tokens=100)
    check_length(90, 10, settings, context_length=2048)
    with pytest.raises(ApiError) as raised:
        check_length(101, 10, settings, context_length=2048)
    assert raised.value.extra["prompt_tokens"] == 101 and "101 in the prompt" in raised.value.message
    with pytest.raises(ApiError):
        check_length(50, 2000, settings, context_length=2048)


def test_stop_tokens_include_eos_and_fim_sentinels(tokenizer):
    ids = stop_token_ids(tokenizer)
    assert tokenizer.eos_token_id in ids and tokenizer.convert_tokens_to_ids(FIM_MIDDLE) in ids
