"""The request rules: at most one server request per cursor, the newest one winning.

Editors ask for a completion on every keystroke. For each ask, in order:

1. the same text around the cursor was completed recently → the cached completion;
2. the user typed the first characters of a recent completion → the rest of it, no request;
3. after ``429`` the server's ``Retry-After`` has not passed → nothing;
4. otherwise wait ``debounce_ms`` and stream one request (``X-Request-Group`` = a sequence
   number, so the server itself also drops older requests of this editor).

A newer ask cancels the older one's work at once (during the debounce no request is sent at
all; during streaming the connection closes); the older ask answers ``None``. When the editor
cancels an ask (``$/cancelRequest``), the task running it is cancelled, the cancellation
reaches the HTTP stream and closes it, and :class:`asyncio.CancelledError` goes back to pygls,
which answers ``RequestCancelled``. Same rules as the VS Code extension (decision 0160).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from serving.lsp.client import Completion, CompletionQuery, ServeError
from serving.lsp.positions import CursorWindow, cursor_window
from serving.lsp.settings import LspSettings

log = logging.getLogger(__name__)

RECENT_ANCHORS = 8
DEFAULT_RETRY_S = 5.0


class Backend(Protocol):
    async def complete(self, query: CompletionQuery, request_group: int | None = None) -> Completion: ...


@dataclass(frozen=True)
class DocumentRequest:
    """An editor's ask: a document's full text, the cursor as a string index, its language."""

    uri: str
    text: str
    offset: int
    language: str
    extra_context: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Answer:
    completion: Completion
    insert_text: str  # what goes at the cursor: the completion minus what was typed of it
    source: str  # "server", "cache" or "typed-ahead"
    latency_ms: float = 0.0  # time the server took (0 when answered without a request)


@dataclass(frozen=True)
class _Anchor:
    uri: str
    offset: int
    window: CursorWindow
    completion: Completion


def cache_key(window: CursorWindow, language: str, settings: LspSettings) -> str:
    parts = (language, settings.mode, str(settings.max_tokens), settings.model, repr(settings.temperature),
             window.prefix, window.suffix)
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class CompletionEngine:
    def __init__(
        self,
        backend: Callable[[], Backend],
        settings: Callable[[], LspSettings],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        cache_size: int = 64,
    ) -> None:
        self._backend = backend
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._cache: OrderedDict[str, Completion] = OrderedDict()
        self._cache_size = cache_size
        self._anchors: list[_Anchor] = []
        self._work: asyncio.Task | None = None
        self._retry_at = 0.0
        self.sequence = 0
        self.requests_sent = 0

    async def provide(self, request: DocumentRequest) -> Answer | None:
        """The completion at the cursor, or None (superseded, backing off, empty). Raises ServeError."""
        settings = self._settings()
        self.sequence += 1
        sequence = self.sequence
        if self._work is not None:
            self._work.cancel()  # newest wins, whatever the older ask is doing
            self._work = None
        window = cursor_window(request.text, request.offset, settings.max_prefix_chars, settings.max_suffix_chars)
        key = cache_key(window, request.language, settings)
        if (cached := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return Answer(cached, cached.text, "cache")
        if (reused := self._typed_ahead(request, window, settings)) is not None:
            return reused
        if not window.prefix and not window.suffix:
            return None  # an empty document: nothing to complete from (the server would refuse it)
        if self._clock() < self._retry_at:
            log.info("not asking: the server asked to wait %.1f s more", self._retry_at - self._clock())
            return None
        query = CompletionQuery(window.prefix, window.suffix, request.language, settings.mode, settings.max_tokens,
                                settings.temperature, settings.model, tuple(request.extra_context))
        work = asyncio.ensure_future(self._fetch(query, sequence, settings.debounce_ms / 1000))
        self._work = work
        try:
            completion, latency_ms = await work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the editor cancelled this ask; awaiting `work` has cancelled it too
            return None  # a newer ask cancelled our work
        except ServeError as err:
            if err.code == "superseded":
                return None  # the server already saw a newer ask of ours (it overtook this one)
            if err.status == 429:
                self._retry_at = self._clock() + (err.retry_after_s or DEFAULT_RETRY_S)
            raise
        finally:
            if self._work is work:
                self._work = None
        self._remember(key, request, window, completion)
        return Answer(completion, completion.text, "server", latency_ms)

    async def _fetch(self, query: CompletionQuery, sequence: int, debounce_s: float) -> tuple[Completion, float]:
        """The completion and the milliseconds the server took for it (the debounce excluded)."""
        if debounce_s > 0:
            await self._sleep(debounce_s)
        self.requests_sent += 1
        started = self._clock()
        completion = await self._backend().complete(query, request_group=sequence)
        return completion, (self._clock() - started) * 1000

    def _remember(self, key: str, request: DocumentRequest, window: CursorWindow, completion: Completion) -> None:
        if not completion.text:
            return  # an empty answer is not worth a slot, and the next keystroke may do better
        self._cache[key] = completion
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        self._anchors = [*self._anchors[-(RECENT_ANCHORS - 1):], _Anchor(request.uri, request.offset, window, completion)]

    def _typed_ahead(self, request: DocumentRequest, window: CursorWindow, settings: LspSettings) -> Answer | None:
        """The rest of a recent completion whose first characters the user just typed."""
        for anchor in reversed(self._anchors):
            typed_chars = request.offset - anchor.offset
            if anchor.uri != request.uri or not 0 < typed_chars < len(anchor.completion.text):
                continue
            typed = request.text[anchor.offset:request.offset]
            if not anchor.completion.text.startswith(typed) or window.suffix != anchor.window.suffix:
                continue
            # The text before the anchor must be what it was when the completion was made.
            before = cursor_window(request.text[:anchor.offset], anchor.offset, settings.max_prefix_chars, 0)
            if before.prefix != anchor.window.prefix:
                continue
            return Answer(anchor.completion, anchor.completion.text[typed_chars:], "typed-ahead")
        return None
