"""Everything the endpoints share: the model, the engine, limits, groups, events, metrics."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from serving.api.errors import ApiError
from serving.api.security import Authenticator, RateLimiter
from serving.engine.engine import Engine
from serving.events.sink import EventSink
from serving.metrics import ServeMetrics
from serving.model_source import ServedModel
from serving.settings import ServeSettings
from serving.supersede import RequestGroups

DEFAULT_ALIAS = "default"


@dataclass(frozen=True)
class CompletionRecord:
    """What the server remembers of a completion it served, to enrich the events about it."""

    model_id: str
    model_run_id: str | None
    gold_table_version: int | None
    language: str | None
    mode: str
    completion_chars: int
    user: str | None


class RecentCompletions:
    """A bounded, thread-safe memory of completion ids (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, CompletionRecord] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, completion_id: str, record: CompletionRecord) -> None:
        if not self.capacity:
            return
        with self._lock:
            self._items[completion_id] = record
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, completion_id: str) -> CompletionRecord | None:
        with self._lock:
            return self._items.get(completion_id)


@dataclass
class ServerState:
    settings: ServeSettings
    served: ServedModel
    tokenizer: Any
    engine: Engine
    metrics: ServeMetrics
    auth: Authenticator
    limiter: RateLimiter
    sink: EventSink | None
    context_length: int
    server_id: str
    groups: RequestGroups = field(default_factory=RequestGroups)
    completions: RecentCompletions = field(default_factory=lambda: RecentCompletions(10_000))
    draining: bool = False

    def __post_init__(self) -> None:
        from serving.prompts import stop_token_ids

        # get_vocab() builds a dict of the whole vocabulary: once, not per request.
        self.stop_ids = stop_token_ids(self.tokenizer)
        self.vocab_size = len(self.tokenizer)

    def check_model(self, name: str) -> None:
        if name not in (self.served.id, DEFAULT_ALIAS):
            raise ApiError(
                404,
                f"The model '{name}' does not exist; this server serves '{self.served.id}' (alias 'default')",
                param="model",
                code="model_not_found",
            )

    def caller(self, request: Request) -> str:
        """The caller's identity for limits and logs: API key id, or client address without auth."""
        if not self.auth.enabled:
            return "local:" + (request.client.host if request.client else "?")
        caller = self.auth.check(request.headers.get("authorization"))
        if caller is None:
            present = bool(request.headers.get("authorization"))
            raise ApiError(
                401,
                "Incorrect API key provided" if present else "Missing bearer token (Authorization: Bearer <key>)",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return caller

    def rate_limit(self, caller: str) -> None:
        wait = self.limiter.acquire(caller)
        if wait > 0:
            self.metrics.rejected.labels(reason="rate_limit").inc()
            raise ApiError(
                429,
                f"Rate limit reached ({self.settings.rate_limit_per_minute} requests per minute, burst "
                f"{self.settings.rate_limit_burst}); retry in {wait:.1f} s",
                type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": RateLimiter.retry_after_header(wait)},
            )
