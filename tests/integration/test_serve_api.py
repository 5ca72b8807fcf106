"""`codemill serve` as editors and the official `openai` client use it: one real server process.

The model is the tiny one saved as the export of a training run trained with FIM (lineage
and ops.training_runs row as the trainer writes them), evaluated and promoted, so the server
started *without* --model must pick it. Behaviour, not quality: the tiny model is untrained.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx2 as httpx
import openai
import pytest

from serving.promotion import promote
from tests.conftest import make_config
from tests.fixtures.serve import (  # noqa: F401 - tiny_model_dir is a fixture
    ServerProcess,
    copy_model,
    register_fim_run,
    tiny_model_dir,
)
from training.evaluation import results

pytestmark = pytest.mark.integration

RUN_ID = "fim-run"
KEY_A = "test-key-alpha-0123456789"
KEY_B = "test-key-bravo-0123456789"
SECRET_MARKER = "zz_private_prompt_text_zz"


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model_dir):  # noqa: F811
    root = tmp_path_factory.mktemp("serve-api")
    config = make_config(root / "lake")
    export = register_fim_run(config, RUN_ID, copy_model(tiny_model_dir, root / "export"))
    rows = [{"benchmark": "humaneval", "metric": "pass@1", "language": "python", "value": 0.25,
             "num_samples": 4, "details_json": None}]
    results.store(config, results.with_lineage(
        rows, eval_id="eval-1", session_id="s", model_path=str(export), training_run_id=RUN_ID,
        table_version=3, eval_table_version=3, evaluated_at=datetime.now(UTC),
    ))
    promote(config, RUN_ID, note="tests")
    server = ServerProcess(
        root / "lake",
        "serve.max_request_bytes=200000",
        "serve.rate_limit_per_minute=100000",
        "serve.rate_limit_burst=10000",
        "serve.max_batch_size=8",
        "serve.max_tokens_limit=2000",
        # float32 weights: this module checks batching exactly (concurrent streams give the text
        # sequential ones do). bfloat16 products round differently by batch shape, so greedy
        # text can part after near ties; serve.dtype=auto picks bf16 on CPUs with bf16 units.
        "serve.dtype=float32",
        env={"CODEMILL_SERVE_API_KEYS": f"{KEY_A},{KEY_B}"},
    ).start()
    yield SimpleNamespace(server=server, export=export, config=config)
    server.stop()


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served.server.url + "/v1", api_key=KEY_A, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def reference(served):
    """The same model in this process, for bare `model.generate` at temperature 0."""
    import torch

    from serving.prompts import stop_token_ids
    from training.model import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(str(served.export))
    model.eval()
    stops = sorted(stop_token_ids(tokenizer))

    def generate(ids: list[int], max_tokens: int, ignore_eos: bool = False) -> str:
        with torch.inference_mode():
            output = model.generate(
                torch.tensor([ids]), max_new_tokens=max_tokens, do_sample=False,
                eos_token_id=None if ignore_eos else stops, pad_token_id=tokenizer.pad_token_id,
            )
        new = [t for t in output[0, len(ids):].tolist() if t not in stops]
        return tokenizer.decode(new, skip_special_tokens=True)

    return SimpleNamespace(model=model, tokenizer=tokenizer, generate=generate)


def post(served, path: str, body=None, key: str | None = KEY_A, **kwargs):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.post(served.server.url + path, json=body, headers=headers, timeout=120, **kwargs)


def test_without_model_the_newest_promoted_run_is_served_with_its_lineage(served, client):
    models = client.models.list()
    assert [m.id for m in models.data] == [RUN_ID]
    card = httpx.get(served.server.url + "/v1/models", headers={"Authorization": f"Bearer {KEY_B}"}).json()
    info = card["data"][0]["codemill"]
    assert info["run_id"] == RUN_ID and info["gold_table_version"] == 3
    assert info["quality_result_id"] == "qr-fixture"
    assert "promoted" in info["chosen_because"]
    assert info["fim"]["order"] == "psm" and info["fim"]["prefix_token"] == "<fim_prefix>"
    assert info["lineage"]["train"]["fim_rate"] == 0.5
    assert info["dtype"] == "float32"  # serve.dtype=float32, as loaded
    assert client.models.retrieve("default").id == RUN_ID


def test_completion_without_suffix_is_bare_greedy_generation(served, client, reference):
    prompt = "def add(a, b):\n    return"
    response = client.completions.create(model=RUN_ID, prompt=prompt, max_tokens=12, temperature=0)
    ids = reference.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert response.choices[0].text == reference.generate(ids, 12)
    assert response.usage.prompt_tokens == len(ids)
    assert response.model == RUN_ID and response.id.startswith("cmpl-")
    assert response.choices[0].finish_reason in ("stop", "length")


def test_fim_completion_uses_the_sentinels_and_order_training_used(served, client, reference):
    from training.prompting import FimFormat, fim_prompt_ids

    prefix, suffix = "def area(r):\n    return ", " * r * r\n"
    # ignore_eos: the tiny model ends a FIM middle at once, and an empty text proves nothing.
    response = client.completions.create(model="default", prompt=prefix, suffix=suffix, max_tokens=10,
                                         temperature=0, extra_body={"ignore_eos": True})
    fmt = FimFormat.from_lineage(json.loads((served.export / "codemill_lineage.json").read_text()))
    ids = fim_prompt_ids(reference.tokenizer, fmt, prefix, suffix)
    assert ids[0] == reference.tokenizer.convert_tokens_to_ids("<fim_prefix>")
    assert ids[-1] == reference.tokenizer.convert_tokens_to_ids("<fim_middle>")
    assert response.usage.prompt_tokens == len(ids)
    assert response.model_extra["codemill"]["fim"] == "psm"
    expected = reference.generate(ids, 10, ignore_eos=True)
    assert expected.strip(), "bare generation gave no text: the comparison below would be vacuous"
    # The editor rules may end the middle early (block end, a tail repeating the suffix);
    # nothing else may differ.
    assert response.choices[0].text and expected.startswith(response.choices[0].text)


def test_streaming_sends_text_while_the_model_is_still_generating(served, client):
    server = served.server
    before = server.metric("codemill_serve_generated_tokens_total")
    stream = client.completions.create(
        model=RUN_ID, prompt="import os\n", max_tokens=1200, temperature=0, stream=True,
        extra_body={"ignore_eos": True},
    )
    chunks = iter(stream)
    first = next(chunks)
    at_first_chunk = server.metric("codemill_serve_generated_tokens_total") - before
    rest = list(chunks)
    total = server.metric("codemill_serve_generated_tokens_total") - before
    assert first.choices[0].text
    assert at_first_chunk < total == 1200  # the first text left long before generation ended
    assert len(rest) > 10 and rest[-1].choices[0].finish_reason == "length"
    streamed = first.choices[0].text + "".join(chunk.choices[0].text for chunk in rest)
    whole = client.completions.create(
        model=RUN_ID, prompt="import os\n", max_tokens=1200, temperature=0, extra_body={"ignore_eos": True}
    )
    assert streamed == whole.choices[0].text


def test_stream_usage_when_asked(client):
    chunks = list(client.completions.create(
        model=RUN_ID, prompt="x = 1\n", max_tokens=5, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body={"ignore_eos": True},
    ))
    assert chunks[-1].usage.completion_tokens == 5 and chunks[-1].choices == []


def test_chat_completion_plain_and_streamed(client):
    messages = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "hello"}]
    reply = client.chat.completions.create(model=RUN_ID, messages=messages, max_tokens=8, temperature=0)
    assert reply.object == "chat.completion" and reply.choices[0].message.role == "assistant"
    assert reply.usage.completion_tokens >= 1
    chunks = list(client.chat.completions.create(
        model=RUN_ID, messages=messages, max_tokens=8, temperature=0, stream=True
    ))
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == reply.choices[0].message.content


def test_closing_the_stream_stops_generation(served):
    import time

    server = served.server
    before = server.metric("codemill_serve_cancellations_total", reason="disconnect")
    baseline = server.metric("codemill_serve_generated_tokens_total")
    body = {"model": RUN_ID, "prompt": "class A:\n", "max_tokens": 1800, "temperature": 0, "stream": True,
            "ignore_eos": True}
    with httpx.stream("POST", server.url + "/v1/completions", json=body,
                      headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60) as response:
        lines = response.iter_lines()
        received = [line for _, line in zip(range(6), lines, strict=False)]
    assert any(line.startswith("data: {") for line in received)
    deadline = time.monotonic() + 30
    while server.metric("codemill_serve_cancellations_total", reason="disconnect") <= before:
        assert time.monotonic() < deadline, "the server never noticed the disconnect"
        time.sleep(0.2)
    after_cancel = server.metric("codemill_serve_generated_tokens_total")
    time.sleep(1.5)
    assert server.metric("codemill_serve_generated_tokens_total") == after_cancel  # stopped growing
    assert after_cancel - baseline < 1800
    assert server.metric("codemill_serve_active_sequences") == 0


def test_newer_request_group_supersedes_the_older_one(served, client):
    failure = {}

    def older():
        try:
            for _ in client.completions.create(
                model=RUN_ID, prompt="def old():", max_tokens=1800, temperature=0, stream=True, user="alice",
                extra_headers={"X-Request-Group": "1"}, extra_body={"ignore_eos": True},
            ):
                pass
        except openai.APIError as err:
            failure["error"] = err

    thread = threading.Thread(target=older)
    thread.start()
    import time

    deadline = time.monotonic() + 60
    while served.server.metric("codemill_serve_active_sequences") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    newer = client.completions.create(
        model=RUN_ID, prompt="def new():", max_tokens=4, temperature=0, user="alice",
        extra_headers={"X-Request-Group": "2"},
    )
    thread.join(60)
    assert newer.choices[0].finish_reason in ("stop", "length")
    assert "superseded" in str(failure.get("error"))
    with pytest.raises(openai.ConflictError, match="superseded"):  # arrived late: older than the newest
        client.completions.create(model=RUN_ID, prompt="x", max_tokens=2, user="alice",
                                  extra_headers={"X-Request-Group": "1"})
    # another user's group is untouched
    other = client.completions.create(model=RUN_ID, prompt="x", max_tokens=2, user="bob",
                                      extra_headers={"X-Request-Group": "1"})
    assert other.choices
    assert served.server.metric("codemill_serve_cancellations_total", reason="superseded") >= 1


def test_concurrent_streams_give_the_same_text_as_sequential_ones(served, client):
    prompts = ["def fib(n):", "import sys\n", "class Point:\n", "for i in range(3):", "x = [", "# utils\n",
               "while True:", "return {"]

    def complete(prompt: str) -> str:
        chunks = client.completions.create(model=RUN_ID, prompt=prompt, max_tokens=40, temperature=0, stream=True)
        return "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)

    sequential = [complete(prompt) for prompt in prompts]
    steps_before = served.server.metric("codemill_serve_batch_size_count")
    single_before = served.server.metric("codemill_serve_batch_size_bucket", le="1.0")
    concurrent: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: concurrent.__setitem__(i, complete(prompts[i])))
               for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [concurrent[i] for i in range(len(prompts))] == sequential
    steps = served.server.metric("codemill_serve_batch_size_count") - steps_before
    single = served.server.metric("codemill_serve_batch_size_bucket", le="1.0") - single_before
    assert single < steps  # some steps decoded several requests at once: batching happened


def test_n_choices_and_seeded_sampling_are_reproducible(client):
    def sample():
        return client.completions.create(model=RUN_ID, prompt="def f():", max_tokens=8, temperature=1.0,
                                         top_p=0.9, n=3, seed=1234)

    first, second = sample(), sample()
    assert len(first.choices) == 3 and [c.index for c in first.choices] == [0, 1, 2]
    assert [c.text for c in first.choices] == [c.text for c in second.choices]
    batch = client.completions.create(model=RUN_ID, prompt=["a = 1", "b = 2"], max_tokens=3, n=2, temperature=0)
    assert [c.index for c in batch.choices] == [0, 1, 2, 3]


def test_line_mode_and_extra_context(served, reference):
    body = {"model": RUN_ID, "prompt": "import helpers\nvalue = helpers.", "max_tokens": 30, "temperature": 0,
            "mode": "line", "language": "python",
            "extra_context": [{"path": "helpers.py", "text": "def scale(x):\n    return 2 * x\n"},
                              {"path": "far.py", "text": "Z = 1\n" * 3000}]}
    response = post(served, "/v1/completions", body)
    assert response.status_code == 200, response.text
    data = response.json()
    text = data["choices"][0]["text"]
    assert "\n" not in text.lstrip("\n").rstrip()  # one line of content at most
    # nearest first in the request, nearest last in the prompt; far.py only fits cut down
    assert data["codemill"]["extra_context"] == {"included": ["far.py", "helpers.py"], "truncated": ["far.py"]}
    from training.prompting import pack_extra_context

    items = [(item["path"], item["text"]) for item in body["extra_context"]]
    packed = pack_extra_context(reference.tokenizer, items, 1024)
    assert packed.tokens <= 1024 and packed.text.endswith("# helpers.py\ndef scale(x):\n    return 2 * x\n\n")
    prompt_ids = reference.tokenizer(packed.text + body["prompt"], add_special_tokens=False)["input_ids"]
    assert data["usage"]["prompt_tokens"] == len(prompt_ids)


def test_authentication(served):
    body = {"model": RUN_ID, "prompt": "x", "max_tokens": 1}
    missing = post(served, "/v1/completions", body, key=None)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = post(served, "/v1/completions", body, key=KEY_A + "x")
    assert wrong.status_code == 401
    assert post(served, "/v1/completions", {"nonsense": 1}, key=None).status_code == 401  # auth before validation
    assert post(served, "/v1/completions", body, key=KEY_B).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served.server.url + "/v1", api_key="not-a-key-000000000", max_retries=0).models.list()
    assert httpx.get(served.server.url + "/health").status_code == 200
    assert httpx.get(served.server.url + "/metrics").status_code == 200


BAD_REQUESTS = [
    ({"model": RUN_ID}, "prompt", None),
    ({"model": RUN_ID, "prompt": "x", "max_tokens": 0}, "max_tokens", None),
    ({"model": RUN_ID, "prompt": "x", "max_tokens": "many"}, "max_tokens", None),
    ({"model": RUN_ID, "prompt": "x", "max_tokens": 5000}, "max_tokens", None),
    ({"model": RUN_ID, "prompt": "x", "temperature": 3}, "temperature", None),
    ({"model": RUN_ID, "prompt": "x", "top_p": 0}, "top_p", None),
    ({"model": RUN_ID, "prompt": "x", "n": 0}, "n", None),
    ({"model": RUN_ID, "prompt": "x", "n": 9}, "n", None),
    ({"model": RUN_ID, "prompt": "x", "stop": [""]}, "stop", None),
    ({"model": RUN_ID, "prompt": "x", "stop": ["a"] * 17}, None, None),
    ({"model": RUN_ID, "prompt": "x", "echo": True}, "echo", "unsupported"),
    ({"model": RUN_ID, "prompt": "x", "logprobs": 2}, "logprobs", "unsupported"),
    ({"model": RUN_ID, "prompt": "x", "best_of": 3}, "best_of", "unsupported"),
    ({"model": RUN_ID, "prompt": "x", "logit_bias": {"abc": 1}}, "logit_bias", None),
    ({"model": RUN_ID, "prompt": "x", "frobnicate": 1}, "frobnicate", None),
    ({"model": RUN_ID, "prompt": "x", "mode": "paragraph"}, "mode", None),
    ({"model": RUN_ID, "prompt": "x", "extra_context": [{"path": "a.py"}]}, "extra_context.0.text", None),
    ({"model": RUN_ID, "prompt": [999999]}, "prompt", None),
    ({"model": RUN_ID, "prompt": ""}, "prompt", None),
    ({"model": RUN_ID, "prompt": []}, "prompt", None),
    ({"model": RUN_ID, "prompt": "x", "user": "u" * 300}, "user", None),
]


@pytest.mark.parametrize("body, param, code", BAD_REQUESTS)
def test_every_invalid_completion_request_is_a_400_in_openai_shape(served, body, param, code):
    response = post(served, "/v1/completions", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] == param
    if code:
        assert error["code"] == code


def test_other_invalid_requests(served, client):
    raw = httpx.post(served.server.url + "/v1/completions", content=b"{not json",
                     headers={"Authorization": f"Bearer {KEY_A}", "Content-Type": "application/json"})
    assert raw.status_code == 400 and "JSON" in raw.json()["error"]["message"]
    assert post(served, "/v1/chat/completions", {"model": RUN_ID, "messages": []}).status_code == 400
    bad_role = post(served, "/v1/chat/completions", {"model": RUN_ID, "messages": [{"role": "robot", "content": "x"}]})
    assert bad_role.status_code == 400 and bad_role.json()["error"]["param"].startswith("messages")
    group = post(served, "/v1/completions", {"model": RUN_ID, "prompt": "x"}, headers={"X-Request-Group": "soon"})
    assert group.status_code == 400 and group.json()["error"]["param"] == "X-Request-Group"
    no_user = post(served, "/v1/completions", {"model": RUN_ID, "prompt": "x"}, headers={"X-Request-Group": "3"})
    assert no_user.status_code == 400 and no_user.json()["error"]["param"] == "user"
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.completions.create(model="gpt-4", prompt="x", max_tokens=1)
    unknown_route = httpx.get(served.server.url + "/v1/engines")
    assert unknown_route.status_code == 404 and "error" in unknown_route.json()


def test_too_long_prompt_is_a_400_with_token_counts(served, client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.completions.create(model=RUN_ID, prompt="value = 1\n" * 1500, max_tokens=16)
    error = raised.value.body
    assert error["code"] == "context_length_exceeded"
    assert error["prompt_tokens"] > error["context_length"] - 16 and error["max_tokens"] == 16
    assert str(error["prompt_tokens"]) in error["message"]


def test_oversized_body_is_a_413(served):
    response = post(served, "/v1/completions", {"model": RUN_ID, "prompt": "x" * 300_000})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_access_log_is_json_without_prompt_text(served, client):
    client.completions.create(model=RUN_ID, prompt=f"# {SECRET_MARKER}\n", max_tokens=3, temperature=0)
    entries = [e for e in served.server.access_log() if e["path"] == "/v1/completions" and e["status"] == 200]
    assert entries and {"model", "prompt_tokens", "completion_tokens", "ttft_ms", "caller"} <= set(entries[-1])
    assert entries[-1]["caller"].startswith("key-") and KEY_A not in served.server.log()
    assert SECRET_MARKER not in served.server.log()
