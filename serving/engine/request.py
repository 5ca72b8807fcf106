"""What the API hands the engine, and what the engine sends back while it decodes.

A :class:`GenerationRequest` is one API call: a prompt (token ids), ``n`` choices, sampling
settings, the editor rules that cut each choice (``training.completion``) and a callback
through which the engine thread reports :class:`Delta` and :class:`ChoiceDone` events. The
API side may :meth:`GenerationRequest.cancel` it at any time; the engine drops it before its
next decoding step.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from training.completion import CompletionContext

FINISH_STOP = "stop"
FINISH_LENGTH = "length"
FINISH_CANCELLED = "cancelled"


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)
    ignore_eos: bool = False  # keep decoding through end-of-sequence (benchmarks)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Delta:
    """New completion text for one choice (what one decoding step released)."""

    index: int
    text: str


@dataclass(frozen=True)
class ChoiceDone:
    index: int
    text: str  # the whole completion of this choice
    finish_reason: str  # stop, length or cancelled
    completion_tokens: int
    detail: str = ""  # why: eos, stop_rule, max_tokens, time_limit, disconnect, superseded


@dataclass(frozen=True)
class RequestFailed:
    message: str


Event = Delta | ChoiceDone | RequestFailed


@dataclass(eq=False)
class GenerationRequest:
    prompt_ids: list[int]
    sampling: SamplingParams
    context: CompletionContext
    emit: Callable[[Event], None]  # called from the engine thread
    n: int = 1
    stop_token_ids: frozenset[int] = frozenset()
    deadline: float | None = None  # time.monotonic() value
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    finished_at: float | None = None
    completion_tokens: int = 0
    _cancelled: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""

    def cancel(self, reason: str) -> None:
        """Stop generating this request (thread-safe); its slot frees at the next step."""
        if not self._cancelled.is_set():
            self.cancel_reason = reason
            self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.created
