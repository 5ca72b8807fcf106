"""Prompts prefilled one by one, then decoded together, continue as the padded batch does."""

import pytest
import torch

from training.evaluation.prefill import generate_rows, prefilled_cache
from training.model import build_tiny, default_tokenizer_texts

# Different lengths, so the batch has padding columns on the left.
PROMPTS = [
    "import os\nimport sys\n\n\ndef main(argv):\n    for name in argv:\n",
    "def fib(n):",
    "class Stack:\n    def push(self, x):\n        self.items.append(x)\n    def pop(self):",
    "for i in range(",
]


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_tiny(default_tokenizer_texts(limit_bytes=150_000))
    return model.eval(), tokenizer


def rows_of(tokenizer, texts):
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def padded_generate(model, rows, pad_id, options):
    """What evaluation did before: one left-padded forward over the whole batch."""
    width = max(map(len, rows))
    ids = torch.tensor([[pad_id] * (width - len(row)) + row for row in rows])
    mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
    return model.generate(input_ids=ids, attention_mask=mask, **options)


def greedy(tokenizer, **extra):
    return dict(max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id, **extra)


def test_prefilled_rows_continue_as_the_padded_batch(tiny):
    model, tokenizer = tiny
    rows = rows_of(tokenizer, PROMPTS)
    assert len({len(row) for row in rows}) == len(rows)
    options = greedy(tokenizer, return_dict_in_generate=True, output_scores=True)
    with torch.inference_mode():
        expected = padded_generate(model, rows, tokenizer.pad_token_id, options)
        got, width = generate_rows(model, rows, tokenizer.pad_token_id, 1, options)
    assert width == max(map(len, rows))
    assert torch.equal(got.sequences, expected.sequences)
    # Each step's logits, not only their argmax: the rows really saw the same context.
    for step_got, step_expected in zip(got.scores, expected.scores, strict=True):
        torch.testing.assert_close(step_got, step_expected, atol=1e-4, rtol=1e-4)


def test_the_cache_holds_every_row_but_its_last_token_left_padded(tiny):
    model, tokenizer = tiny
    rows = rows_of(tokenizer, PROMPTS[:2])
    width = max(map(len, rows))
    with torch.inference_mode():
        cache = prefilled_cache(model, rows, width, copies=3)
        alone = model(input_ids=torch.tensor([rows[1][:-1]]), use_cache=True).cache
    keys = cache.layers[0].keys
    assert keys.shape[0] == 6 and keys.shape[2] == width - 1
    short = width - len(rows[1])  # the shorter row's padding columns
    assert short > 0
    assert torch.count_nonzero(keys[3:, :, :short]) == 0
    for copy in range(3, 6):  # copies are consecutive rows, each the prompt computed alone
        torch.testing.assert_close(keys[copy, :, short:], alone.layers[0].keys[0], atol=1e-5, rtol=1e-5)


def test_sampled_copies_are_seeded_and_belong_to_their_prompt(tiny):
    model, tokenizer = tiny
    rows = rows_of(tokenizer, PROMPTS[:2])
    options = dict(max_new_tokens=8, do_sample=True, temperature=1.5, top_p=1.0, pad_token_id=tokenizer.pad_token_id)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        with torch.inference_mode():
            runs.append(generate_rows(model, rows, tokenizer.pad_token_id, 4, options))
    (first, width), (second, _) = runs
    assert first.shape[0] == 8 and torch.equal(first, second)
    for index, row in enumerate(rows):
        prompts = first[index * 4:(index + 1) * 4, width - len(row):width]
        assert all(prompt.tolist() == row for prompt in prompts)
    assert len({tuple(seq.tolist()) for seq in first[:4, width:]}) > 1  # really sampled


def test_a_one_token_row_falls_back_to_the_padded_batch(tiny):
    model, tokenizer = tiny
    rows = rows_of(tokenizer, ["x", "def fib(n):"])
    assert min(map(len, rows)) == 1
    with torch.inference_mode():
        assert prefilled_cache(model, rows, max(map(len, rows))) is None
        got, _ = generate_rows(model, rows, tokenizer.pad_token_id, 1, greedy(tokenizer))
        expected = padded_generate(model, rows, tokenizer.pad_token_id, greedy(tokenizer))
    assert torch.equal(got, expected)


def test_a_sliding_window_model_keeps_the_padded_batch():
    from transformers import AutoModelForCausalLM, MistralConfig

    config = MistralConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, sliding_window=4)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    rows = [[5, 6, 7, 8, 9, 10], [11, 12, 13]]
    options = dict(max_new_tokens=4, do_sample=False, pad_token_id=0)
    with torch.inference_mode():
        assert prefilled_cache(model, rows, 6) is None
        got, _ = generate_rows(model, rows, 0, 1, options)
        expected = padded_generate(model, rows, 0, options)
    assert torch.equal(got, expected)
