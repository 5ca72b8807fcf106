"""The language server's request rules with a recording fake backend (no server, no editor)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from serving.lsp.client import Completion, CompletionQuery, ServeError
from serving.lsp.engine import CompletionEngine, DocumentRequest
from serving.lsp.settings import LspSettings

TEXT = "def area(r):\n    return \n"
CURSOR = TEXT.index("return ") + len("return ")


class FakeBackend:
    """Answers ``reply`` after ``delay`` seconds; records calls, cancellations and groups."""

    def __init__(self, reply: str = "3.14 * r * r", delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.calls: list[tuple[CompletionQuery, int | None]] = []
        self.cancelled = 0
        self.error: ServeError | None = None

    async def complete(self, query: CompletionQuery, request_group: int | None = None) -> Completion:
        self.calls.append((query, request_group))
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error is not None:
            raise self.error
        return Completion(f"cmpl-{len(self.calls)}", self.reply, "stop", "m")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_engine(backend: FakeBackend, clock: Clock | None = None, **settings) -> CompletionEngine:
    chosen = replace(LspSettings(), **{"debounce_ms": 0, **settings})
    return CompletionEngine(lambda: backend, lambda: chosen, clock=clock or Clock())


def ask(text: str = TEXT, offset: int = CURSOR, uri: str = "file:///a.py") -> DocumentRequest:
    return DocumentRequest(uri, text, offset, "python", (("b.py", "import os\n"),))


def test_the_request_carries_prefix_suffix_settings_and_context():
    backend = FakeBackend()
    answer = asyncio.run(make_engine(backend, mode="line", max_tokens=7).provide(ask()))
    assert answer is not None and answer.insert_text == "3.14 * r * r" and answer.source == "server"
    (query, group), = backend.calls
    assert (query.prefix, query.suffix) == (TEXT[:CURSOR], TEXT[CURSOR:])
    assert (query.mode, query.max_tokens, query.language) == ("line", 7, "python")
    assert query.extra_context == (("b.py", "import os\n"),)
    assert group == 1


def test_debounce_sends_only_the_last_of_quick_asks():
    backend = FakeBackend()
    engine = make_engine(backend, debounce_ms=50)

    async def typing():
        first = asyncio.ensure_future(engine.provide(ask(TEXT, CURSOR - 1)))
        await asyncio.sleep(0.01)
        second = await engine.provide(ask())
        return await first, second

    first, second = asyncio.run(typing())
    assert first is None and second is not None
    assert len(backend.calls) == 1 and backend.calls[0][1] == 2  # only the newer went out
    assert engine.requests_sent == 1


def test_a_newer_ask_cancels_the_running_request():
    backend = FakeBackend(delay=5)
    engine = make_engine(backend)

    async def two():
        older = asyncio.ensure_future(engine.provide(ask(TEXT, CURSOR - 1)))
        await asyncio.sleep(0.05)
        backend.delay = 0
        newer = await engine.provide(ask())
        return await older, newer

    older, newer = asyncio.run(two())
    assert older is None and newer is not None
    assert backend.cancelled == 1
    assert [group for _, group in backend.calls] == [1, 2]


def test_editor_cancellation_propagates_and_stops_the_request():
    backend = FakeBackend(delay=5)
    engine = make_engine(backend)

    async def cancelled():
        task = asyncio.ensure_future(engine.provide(ask()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())
    assert backend.cancelled == 1


def test_cache_answers_the_same_window_without_a_request():
    backend = FakeBackend()
    engine = make_engine(backend)

    async def twice():
        return await engine.provide(ask()), await engine.provide(ask())

    first, second = asyncio.run(twice())
    assert second.source == "cache" and second.insert_text == first.insert_text
    assert len(backend.calls) == 1
    # Another setting is another key.
    other = make_engine(backend, max_tokens=3)
    asyncio.run(other.provide(ask()))
    assert len(backend.calls) == 2


def test_typing_the_start_of_a_completion_reuses_the_rest():
    backend = FakeBackend()
    engine = make_engine(backend)

    async def type_ahead():
        await engine.provide(ask())
        typed = TEXT[:CURSOR] + "3.1" + TEXT[CURSOR:]
        reused = await engine.provide(ask(typed, CURSOR + 3))
        wrong = TEXT[:CURSOR] + "2.7" + TEXT[CURSOR:]
        fresh = await engine.provide(ask(wrong, CURSOR + 3))
        other_file = await engine.provide(ask(typed, CURSOR + 3, uri="file:///other.py"))
        return reused, fresh, other_file

    reused, fresh, other_file = asyncio.run(type_ahead())
    assert reused.source == "typed-ahead" and reused.insert_text == "4 * r * r"
    assert fresh.source == "server"  # typed something else: a new request
    assert other_file.source == "server"  # typed-ahead is per document
    assert len(backend.calls) == 3


def test_typed_ahead_needs_the_text_before_unchanged():
    backend = FakeBackend()
    engine = make_engine(backend)

    async def edited_above():
        await engine.provide(ask())
        typed = "# note\n" + TEXT[:CURSOR] + "3.1" + TEXT[CURSOR:]
        return await engine.provide(ask(typed, CURSOR + 7 + 3))

    assert asyncio.run(edited_above()).source == "server"


def test_an_empty_document_sends_nothing():
    backend = FakeBackend()
    assert asyncio.run(make_engine(backend).provide(ask("", 0))) is None
    assert backend.calls == []


def test_429_backs_off_for_retry_after():
    backend = FakeBackend()
    backend.error = ServeError("slow down", 429, retry_after_s=10)
    clock = Clock()
    engine = make_engine(backend, clock)

    async def scenario():
        with pytest.raises(ServeError, match="slow down"):
            await engine.provide(ask())
        backend.error = None
        waiting = await engine.provide(ask(TEXT, CURSOR - 1))
        clock.now += 11
        after = await engine.provide(ask(TEXT, CURSOR - 1))
        return waiting, after

    waiting, after = asyncio.run(scenario())
    assert waiting is None and after is not None
    assert len(backend.calls) == 2


def test_server_side_supersede_is_not_an_error_and_empty_answers_are_not_cached():
    backend = FakeBackend(reply="")
    backend.error = ServeError("superseded by a newer request", 409, code="superseded")
    engine = make_engine(backend)
    assert asyncio.run(engine.provide(ask())) is None
    backend.error = None
    assert asyncio.run(engine.provide(ask())).insert_text == ""
    assert asyncio.run(engine.provide(ask())).source == "server"  # not from the cache


# -- completion events ---------------------------------------------------------------------


def test_events_shown_dismissed_accepted_batched_and_switchable():
    from serving.lsp.events import EventReporter

    posted: list[list[dict]] = []
    enabled = {"on": True}

    async def post(batch):
        posted.append(batch)

    async def session():
        reporter = EventReporter(post, lambda: enabled["on"], flush_s=0.05, batch_size=20)
        reporter.shown("c1", "python", 10, 120.0)
        reporter.shown("c1", "python", 10, 0.0)  # same completion again (cache): no new event
        reporter.shown("c2", "python", 5, 80.0)  # replaces c1 unaccepted: c1 dismissed
        reporter.accepted("c2", 5)
        reporter.shown("", "python", 3, 1.0)  # no id: nothing to report
        await asyncio.sleep(0.2)
        enabled["on"] = False
        reporter.shown("c3", "python", 4, 1.0)
        await reporter.flush()
        return reporter

    reporter = asyncio.run(session())
    (batch,) = posted
    assert [(e["completion_id"], e["event"]) for e in batch] == [
        ("c1", "shown"), ("c1", "dismissed"), ("c2", "shown"), ("c2", "accepted")]
    assert batch[3]["accepted_chars"] == 5 and batch[0]["latency_ms"] == 120.0
    assert "accepted_chars" not in batch[0] and reporter.queue == []


def test_events_flush_at_batch_size_and_survive_a_failing_server():
    from serving.lsp.events import EventReporter

    calls = []

    async def failing(batch):
        calls.append(len(batch))
        raise ServeError("down")

    async def session():
        reporter = EventReporter(failing, lambda: True, flush_s=60, batch_size=4, max_queue=6)
        for number in range(4):
            reporter.accepted(f"c{number}", 1)
        await asyncio.sleep(0.01)
        for number in range(10):
            reporter.accepted(f"d{number}", 1)
        return reporter

    reporter = asyncio.run(session())
    assert calls[0] == 4  # flushed at the batch size, the failure only logged
    assert len(reporter.queue) <= 6
