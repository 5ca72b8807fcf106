"""The batching engine in process: same tokens as bare generate, cancellation, queue bound, seeds."""

import threading
import time

import pytest
import torch

from serving.engine.engine import Engine, QueueFull
from serving.engine.kv_batch import KVBatch
from serving.engine.request import ChoiceDone, Delta, GenerationRequest, SamplingParams
from training.completion import CompletionContext
from training.evaluation.prefill import prefill
from training.model import build_tiny, default_tokenizer_texts

PROMPTS = ["def fib(n):", "import os\nimport sys\n", "class Stack:\n    def push(self, x):", "for i in range(", "x"]


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_tiny(default_tokenizer_texts(limit_bytes=150_000))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the engine thread and OpenMP spin-waiting do not mix on 2 cores
    yield model.eval(), tokenizer
    torch.set_num_threads(previous)


def ids_of(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


class Collector:
    def __init__(self, n=1):
        self.texts = [""] * n
        self.done = [None] * n
        self.finished = threading.Event()

    def __call__(self, event):
        if isinstance(event, Delta):
            self.texts[event.index] += event.text
        elif isinstance(event, ChoiceDone):
            self.done[event.index] = event
            if all(self.done):
                self.finished.set()


def request(tokenizer, prompt, collector, max_tokens=20, n=1, **sampling):
    return GenerationRequest(ids_of(tokenizer, prompt), SamplingParams(max_tokens=max_tokens, **sampling),
                             CompletionContext(prefix=prompt), collector, n=n,
                             stop_token_ids=frozenset({tokenizer.eos_token_id}))


def bare_greedy(model, tokenizer, prompts, max_new_tokens=20) -> list[str]:
    """What plain model.generate answers to each prompt alone (greedy): the engine's reference."""
    expected = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = ids_of(tokenizer, prompt)
            out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            expected.append(tokenizer.decode(out[0, len(ids):], skip_special_tokens=True))
    return expected


def submit_greedy(engine, tokenizer, prompts) -> list:
    """Submit every prompt at once (temperature 0) and wait until each has finished."""
    collectors = [Collector() for _ in prompts]
    for prompt, collector in zip(prompts, collectors, strict=True):
        engine.submit(request(tokenizer, prompt, collector, temperature=0.0))
    for collector in collectors:
        assert collector.finished.wait(120)
    return collectors


def test_batched_decoding_gives_bare_generate_tokens(tiny):
    model, tokenizer = tiny
    expected = bare_greedy(model, tokenizer, PROMPTS)
    engine = Engine(model, tokenizer, max_batch_size=8).start()
    try:
        collectors = submit_greedy(engine, tokenizer, PROMPTS)
        assert [c.texts[0] for c in collectors] == expected
        assert [c.done[0].text for c in collectors] == expected
        assert engine.steps < 20 * len(PROMPTS)  # decoded together, not one after another
    finally:
        engine.stop()


def test_kv_batch_rows_join_leave_and_compact(tiny):
    model, tokenizer = tiny
    batch = KVBatch(torch.device("cpu"))
    with torch.inference_mode():
        for prompt in ("a", "def long_function_name(arg):"):
            _, cache = prefill(model, ids_of(tokenizer, prompt), torch.device("cpu"))
            batch.add(cache, len(ids_of(tokenizer, prompt)))
        long = len(ids_of(tokenizer, "def long_function_name(arg):"))
        assert batch.rows == 2 and batch.length == long
        assert batch.mask[0].sum() == len(ids_of(tokenizer, "a"))  # left padding is masked
        batch.step(model, [1, 1])
        batch.keep([0])  # the long row leaves: its columns are padding for everyone else
        assert batch.rows == 1 and batch.length == len(ids_of(tokenizer, "a")) + 1
        assert batch.positions == [len(ids_of(tokenizer, "a")) + 1]


def test_cancel_frees_the_slot_and_queue_is_bounded(tiny):
    model, tokenizer = tiny
    engine = Engine(model, tokenizer, max_batch_size=1, max_queue=1).start()
    try:
        running, waiting = Collector(), Collector()
        first = request(tokenizer, "x", running, max_tokens=100_000, ignore_eos=True)
        engine.submit(first)
        while engine.active == 0:  # admitted: its slot is taken
            time.sleep(0.01)
        engine.submit(request(tokenizer, "y", waiting, max_tokens=3))
        with pytest.raises(QueueFull):
            engine.submit(request(tokenizer, "z", Collector(), max_tokens=3))
        first.cancel("disconnect")
        engine.wake()
        assert running.finished.wait(60) and waiting.finished.wait(60)
        assert running.done[0].finish_reason == "cancelled" and running.done[0].detail == "disconnect"
        assert waiting.done[0].finish_reason == "length"
        deadline = time.monotonic() + 30
        while engine.active and time.monotonic() < deadline:  # leaves the batch right after its last event
            time.sleep(0.01)
        assert engine.active == 0
    finally:
        engine.stop()


def test_seeded_sampling_is_reproducible_and_choices_differ(tiny):
    model, tokenizer = tiny
    engine = Engine(model, tokenizer, max_batch_size=8).start()
    try:
        runs = []
        for _ in range(2):
            collector = Collector(n=3)
            engine.submit(request(tokenizer, "def f():", collector, max_tokens=12, n=3, temperature=1.5, seed=7))
            assert collector.finished.wait(60)
            runs.append(collector.texts)
        assert runs[0] == runs[1]
        assert len(set(runs[0])) > 1
    finally:
        engine.stop()


def test_time_limit_ends_a_request_with_what_it_has(tiny):
    model, tokenizer = tiny
    engine = Engine(model, tokenizer).start()
    try:
        collector = Collector()
        slow = request(tokenizer, "x", collector, max_tokens=100_000, ignore_eos=True)
        slow.deadline = time.monotonic() + 0.5
        engine.submit(slow)
        assert collector.finished.wait(60)
        assert collector.done[0].detail == "time_limit" and collector.done[0].finish_reason == "length"
    finally:
        engine.stop()


def test_kv_batch_writes_steps_in_place_and_grows_without_changing_tokens(tiny, monkeypatch):
    from serving.engine import kv_batch

    model, tokenizer = tiny
    batch = KVBatch(torch.device("cpu"))
    with torch.inference_mode():
        _, cache = prefill(model, ids_of(tokenizer, "def f(x):"), torch.device("cpu"))
        batch.add(cache, len(ids_of(tokenizer, "def f(x):")))
        buffer = batch.layers[0].key_buffer.data_ptr()
        batch.step(model, [1])
        batch.step(model, [2])
    assert batch.layers[0].key_buffer.data_ptr() == buffer  # no copy of the cache per step
    assert batch.layers[0].keys.shape[2] == batch.length

    # Buffers of 3 free columns: 20 tokens cross many growths (and joins into grown buffers).
    monkeypatch.setattr(kv_batch, "GROW_COLUMNS", 3)
    prompts = PROMPTS[:3]
    expected = bare_greedy(model, tokenizer, prompts)
    engine = Engine(model, tokenizer, max_batch_size=8).start()
    try:
        collectors = submit_greedy(engine, tokenizer, prompts)
        assert [c.done[0].text for c in collectors] == expected
    finally:
        engine.stop()
