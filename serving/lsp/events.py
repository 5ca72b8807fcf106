"""Completion events (shown / accepted / dismissed) to `codemill serve`'s ``/v1/events``.

LSP reports neither the display of an item nor its dismissal, only acceptance, and only when
the item carries a ``command`` the editor runs on accept (``codemill.accepted``, with the
completion id and length). So, as in the VS Code extension (decision 0160): ``shown`` = a
non-empty completion was handed to the editor; a later, different completion ends the
previous one as ``dismissed`` unless it was accepted. Events carry no code. They are batched
(every ``flush_s`` seconds or ``batch_size`` events), best effort (a failed batch is logged
and dropped) and bounded (``max_queue``); off with the ``events.enabled`` setting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

ACCEPT_COMMAND = "codemill.accepted"


@dataclass(frozen=True)
class Shown:
    completion_id: str
    language: str
    chars: int
    latency_ms: float


class EventReporter:
    def __init__(self, post: Callable[[list[dict]], Awaitable[None]], enabled: Callable[[], bool],
                 flush_s: float = 5.0, batch_size: int = 20, max_queue: int = 500) -> None:
        self._post = post
        self._enabled = enabled
        self.flush_s = flush_s
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.queue: list[dict] = []
        self._shown: Shown | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task] = set()

    def shown(self, completion_id: str, language: str, chars: int, latency_ms: float) -> None:
        if not completion_id or chars == 0:
            return
        if self._shown is not None and self._shown.completion_id == completion_id:
            return  # the same completion again (cache, typed-ahead): still the one on screen
        self._end_shown()
        self._shown = Shown(completion_id, language, chars, latency_ms)
        self._record(completion_id, "shown", language, None, latency_ms)

    def accepted(self, completion_id: str, accepted_chars: int | None = None) -> None:
        shown = self._shown if self._shown is not None and self._shown.completion_id == completion_id else None
        language = shown.language if shown else None
        chars = accepted_chars if accepted_chars is not None else (shown.chars if shown else None)
        self._record(completion_id, "accepted", language, chars, shown.latency_ms if shown else None)
        if shown is not None:
            self._shown = None

    def _end_shown(self) -> None:
        if self._shown is not None:
            previous, self._shown = self._shown, None
            self._record(previous.completion_id, "dismissed", previous.language, None, previous.latency_ms)

    def _record(self, completion_id: str, event: str, language: str | None, chars: int | None,
                latency_ms: float | None) -> None:
        if not self._enabled():
            self.queue.clear()
            return
        entry = {"completion_id": completion_id, "event": event}
        if language:
            entry["language"] = language[:64]
        if chars is not None:
            entry["accepted_chars"] = chars
        if latency_ms is not None:
            entry["latency_ms"] = round(latency_ms, 1)
        self.queue.append({key: value for key, value in entry.items() if value is not None})
        del self.queue[: max(0, len(self.queue) - self.max_queue)]
        if len(self.queue) >= self.batch_size and not self._flushing:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.flush_s, self._start_flush)

    def _start_flush(self) -> None:
        task = asyncio.ensure_future(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self.queue = self.queue, []
        if not batch or not self._enabled():
            return
        try:
            await self._post(batch)
        except Exception as err:  # noqa: BLE001 - events are best effort; completion must go on
            log.warning("dropped %d completion events: %s", len(batch), err)
