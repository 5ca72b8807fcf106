"""Editor events into ops.completion_events, surviving kill -9; limits; a model without FIM.

One server process on the tiny model as a plain directory (no training lineage, so no
fill-in-the-middle), without API keys (local only), a one-slot batch and a one-request queue.
Events are flushed only at shutdown here, so a kill -9 leaves them in the write-ahead log.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from types import SimpleNamespace

import httpx2 as httpx
import openai
import pytest
from deltalake import DeltaTable

from serving.events.sink import EVENTS_TABLE
from tests.conftest import make_config
from tests.fixtures.serve import REPO, ServerProcess, copy_model, tiny_model_dir  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model_dir):  # noqa: F811
    root = tmp_path_factory.mktemp("serve-events")
    model = copy_model(tiny_model_dir, root / "plain-model")
    server = ServerProcess(
        root / "lake",
        "--model", str(model),
        "serve.events_flush_seconds=3600",
        "serve.max_batch_size=1",
        "serve.max_queue=1",
        "serve.rate_limit_per_minute=60",
        "serve.rate_limit_burst=12",
        "serve.max_tokens_limit=2000",
    ).start()
    yield SimpleNamespace(server=server, lake=root / "lake", config=make_config(root / "lake"))
    server.stop()


def events_table(served) -> list[dict]:
    path = served.config.lake.table_path(EVENTS_TABLE)
    try:
        return DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    except Exception:  # noqa: BLE001 - not created yet
        return []


def test_a_model_without_fim_refuses_a_suffix_and_says_why(served):
    client = openai.OpenAI(base_url=served.server.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        client.completions.create(model="plain-model", prompt="def f(", suffix="):\n", max_tokens=4)
    assert raised.value.body["code"] == "fim_not_supported"
    assert "fill-in-the-middle" in raised.value.body["message"] and "fim_fallback" in raised.value.body["message"]
    card = client.models.retrieve("plain-model").model_extra["codemill"]
    assert card["fim"] is None and card["run_id"] is None


def test_events_survive_kill_9_and_are_written_once(served):
    server = served.server
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    completion = client.completions.create(model="default", prompt="def f(x):", max_tokens=6, temperature=0,
                                           extra_body={"mode": "block", "language": "python"})
    chars = len(completion.choices[0].text)
    single = {"completion_id": completion.id, "event": "shown", "language": "python", "latency_ms": 41.5,
              "event_id": "ev-shown-1"}
    batch = {"events": [
        {"completion_id": completion.id, "event": "accepted", "latency_ms": 900, "event_id": "ev-acc-1"},
        {"completion_id": "cmpl-from-elsewhere", "event": "partially_accepted", "accepted_chars": 3,
         "language": "go", "event_id": "ev-part-1"},
        {"completion_id": "cmpl-from-elsewhere", "event": "dismissed"},
    ]}
    assert httpx.post(server.url + "/v1/events", json=single).json() == {"received": 1}
    assert httpx.post(server.url + "/v1/events", json=batch).json() == {"received": 3}
    assert server.metric("codemill_serve_completion_events_pending") == 4
    server.kill()  # kill -9: no flush, no shutdown hook
    assert events_table(served) == []
    server.start()  # replays the write-ahead log before it is ready
    rows = {row["event_id"]: row for row in events_table(served)}
    assert len(rows) == 4 and {"ev-shown-1", "ev-acc-1", "ev-part-1"} <= set(rows)
    shown, accepted = rows["ev-shown-1"], rows["ev-acc-1"]
    assert shown["model_id"] == "plain-model" and shown["language"] == "python" and shown["latency_ms"] == 41.5
    assert shown["completion_chars"] == chars and shown["mode"] == "block"
    assert accepted["accepted_chars"] == chars and accepted["language"] == "python"  # from the completion
    assert rows["ev-part-1"]["accepted_chars"] == 3 and rows["ev-part-1"]["completion_chars"] is None
    # the same event again (a client retry) and a new one, then a graceful stop (SIGTERM):
    # flushed at shutdown, nothing duplicated
    httpx.post(server.url + "/v1/events", json=single)
    httpx.post(server.url + "/v1/events", json={"completion_id": completion.id, "event": "dismissed",
                                                "event_id": "ev-late"})
    server.stop()
    assert "codemill serve: stopped" in server.log()
    rows = {row["event_id"]: row for row in events_table(served)}
    assert len(rows) == 5 and "ev-late" in rows
    server.start()
    assert len(events_table(served)) == 5


def test_invalid_events_are_400(served):
    url = served.server.url + "/v1/events"
    assert httpx.post(url, json={"completion_id": "c", "event": "loved"}).status_code == 400
    partial = httpx.post(url, json={"completion_id": "c", "event": "partially_accepted"})
    assert partial.status_code == 400 and "accepted_chars" in partial.json()["error"]["message"]
    assert httpx.post(url, json={"events": []}).status_code == 400
    assert httpx.post(url, content=b"[1, 2", headers={"Content-Type": "application/json"}).status_code == 400


def test_serve_report_shows_acceptance_per_model_and_language(served, tmp_path):
    png = tmp_path / "acceptance.png"
    result = subprocess.run(
        [sys.executable, "-m", "codemill.cli.main", "serve", "report", "--output", str(png), "--json",
         f"lake.root={served.lake}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    import json

    table = json.loads(result.stdout[: result.stdout.rindex("]") + 1])
    python = next(row for row in table if row["language"] == "python")
    assert python["model_id"] == "plain-model" and python["shown"] == 1 and python["accepted"] == 1
    assert python["acceptance_rate"] == 1.0
    go = next(row for row in table if row["language"] == "go")
    assert go["partially_accepted"] == 1 and go["shown"] == 0
    assert png.stat().st_size > 1000


def test_a_full_queue_answers_429_with_retry_after(served):
    import time

    body = {"model": "default", "prompt": "import os\n", "max_tokens": 600, "temperature": 0,
            "ignore_eos": True}
    answers: list[httpx.Response] = []

    def call():
        answers.append(httpx.post(served.server.url + "/v1/completions", json=body, timeout=300))

    first = threading.Thread(target=call)
    first.start()
    deadline = time.monotonic() + 60
    while served.server.metric("codemill_serve_active_sequences") < 1:  # the only batch slot is taken
        assert time.monotonic() < deadline
        time.sleep(0.05)
    others = [threading.Thread(target=call) for _ in range(3)]  # one may wait in the queue, two may not
    for thread in [*others]:
        thread.start()
    for thread in [first, *others]:
        thread.join(300)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 200, 429, 429]
    busy = next(answer for answer in answers if answer.status_code == 429)
    assert busy.json()["error"]["code"] == "queue_full" and int(busy.headers["retry-after"]) >= 1


def test_rate_limit_per_caller(served):
    # Runs last: it spends this caller's budget (burst 12, then one request per second).
    url = served.server.url + "/v1/completions"
    answers = [httpx.post(url, json={"model": "nope", "prompt": "x"}) for _ in range(30)]
    codes = [answer.status_code for answer in answers]
    assert 404 in codes and 429 in codes  # counted before validation, refused once the bucket is empty
    # A refusal from the run itself: a request sent after it could find a token refilled (one a
    # second) when 30 requests took that long on a loaded machine.
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert httpx.post(served.server.url + "/v1/events", json={"completion_id": "c", "event": "shown"}).status_code == 200
