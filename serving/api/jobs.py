"""One API call in flight: its engine requests, their events on the event loop, and its end.

The engine thread emits events through ``loop.call_soon_threadsafe`` into an asyncio queue;
the endpoint reads them as batches (everything one decoding step released), so a stream
sends one SSE event per decoded token batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from serving.api.errors import ApiError
from serving.engine.engine import Engine, EngineStopped, QueueFull
from serving.engine.request import (
    ChoiceDone,
    Delta,
    Event,
    GenerationRequest,
    RequestFailed,
    SamplingParams,
)
from serving.prompts import PromptPlan
from serving.supersede import Superseded


@dataclass
class ChoiceResult:
    text: str = ""
    finish_reason: str | None = None
    completion_tokens: int = 0
    detail: str = ""


@dataclass
class Job:
    engine: Engine
    plans: list[PromptPlan]
    n: int
    sampling: SamplingParams
    stop_ids: frozenset[int]
    deadline: float | None
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    requests: list[GenerationRequest] = field(default_factory=list)
    superseded: Superseded | None = None

    def __post_init__(self) -> None:
        for number, plan in enumerate(self.plans):
            self.requests.append(
                GenerationRequest(
                    plan.ids,
                    self.sampling,
                    plan.context,
                    self._emitter(number * self.n),
                    n=self.n,
                    stop_token_ids=self.stop_ids,
                    deadline=self.deadline,
                )
            )
        self.results = [ChoiceResult() for _ in range(len(self.plans) * self.n)]

    def _emitter(self, offset: int):
        def emit(event: Event) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone (server shutting down)
                self.loop.call_soon_threadsafe(self.queue.put_nowait, (offset, event))

        return emit

    @property
    def prompt_tokens(self) -> int:
        return sum(len(plan.ids) for plan in self.plans)

    @property
    def completion_tokens(self) -> int:
        return sum(request.completion_tokens for request in self.requests)

    @property
    def finished(self) -> bool:
        return all(result.finish_reason is not None for result in self.results)

    @property
    def time_to_first_token(self) -> float | None:
        values = [r.time_to_first_token for r in self.requests if r.time_to_first_token is not None]
        return min(values) if values else None

    def submit(self) -> None:
        for number, request in enumerate(self.requests):
            try:
                self.engine.submit(request)
            except (QueueFull, EngineStopped) as err:
                for submitted in self.requests[:number]:
                    submitted.cancel("rejected")
                self.engine.wake()
                if isinstance(err, QueueFull):
                    raise ApiError(
                        429,
                        f"the server is busy ({err}); retry shortly",
                        type="server_overloaded",
                        code="queue_full",
                        headers={"Retry-After": "1"},
                    ) from None
                raise ApiError(503, str(err), type="server_unavailable", code="shutting_down") from None

    def cancel(self, reason: str) -> None:
        for request in self.requests:
            request.cancel(reason)
        self.engine.wake()

    def supersede(self, why: Superseded) -> None:
        self.superseded = why
        self.cancel("superseded")

    async def batches(self) -> AsyncIterator[list[tuple[int, Event]]]:
        """Events as they come, grouped by what arrived together; ends when every choice is done."""
        while not self.finished:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            resolved = []
            for offset, event in batch:
                if isinstance(event, RequestFailed):
                    raise ApiError(500, event.message, type="server_error", code="generation_failed")
                index = offset + event.index
                result = self.results[index]
                if isinstance(event, Delta):
                    result.text += event.text
                elif isinstance(event, ChoiceDone):
                    result.finish_reason = event.finish_reason
                    result.completion_tokens = event.completion_tokens
                    result.detail = event.detail
                resolved.append((index, event))
            yield resolved
