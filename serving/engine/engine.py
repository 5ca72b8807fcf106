"""The decoding loop: one thread steps every active sequence together (dynamic batching).

Each iteration of :meth:`Engine._loop`:

1. drop cancelled or timed-out sequences (a closed connection frees its slot here, within
   one decoding step);
2. admit waiting requests while slots are free: prefill each alone, sample its first token
   and emit it at once (time to first token does not wait for the batch), join its cache
   to the batch (``KVBatch``);
3. one forward pass for all active rows, one token each; every choice's text goes through
   its ``CompletionTracker`` (the editor rules) and released text is emitted as a
   :class:`Delta`; choices that end leave the batch.

Requests wait in a bounded queue; :meth:`Engine.submit` raises :class:`QueueFull` beyond it
(the API answers 429). Why this design over alternatives: docs/decisions/0140-serving-engine.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import torch

from serving.engine.kv_batch import KVBatch
from serving.engine.request import (
    FINISH_CANCELLED,
    FINISH_LENGTH,
    FINISH_STOP,
    ChoiceDone,
    Delta,
    GenerationRequest,
    RequestFailed,
)
from serving.engine.sampling import make_generator, next_tokens
from training.completion import CompletionTracker
from training.evaluation.prefill import prefill

log = logging.getLogger(__name__)

# Prompt tokens prefilled per loop iteration before the running batch gets its next step,
# so a burst of long prompts does not freeze streams that are already running.
PREFILL_TOKENS_PER_STEP = 2048


class QueueFull(RuntimeError):
    """More requests are waiting than the queue holds."""


class EngineStopped(RuntimeError):
    pass


@dataclass(eq=False)
class _Choice:
    """One sequence in the batch: a request's choice being decoded."""

    request: GenerationRequest
    index: int
    tracker: CompletionTracker
    generator: torch.Generator | None
    tokens: list[int] = field(default_factory=list)
    finished: bool = False


class EngineObserver:
    """Hooks the engine calls (metrics); the default does nothing."""

    def queue_depth(self, depth: int) -> None: ...
    def active_sequences(self, count: int) -> None: ...
    def tokens_generated(self, count: int) -> None: ...
    def first_token(self, request: GenerationRequest) -> None: ...
    def request_finished(self, request: GenerationRequest) -> None: ...
    def cancelled(self, reason: str) -> None: ...
    def step(self, batch_size: int, seconds: float) -> None: ...


class Engine:
    def __init__(
        self,
        model,
        tokenizer,
        *,
        max_batch_size: int = 16,
        max_queue: int = 64,
        observer: EngineObserver | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.observer = observer or EngineObserver()
        self._waiting: deque[GenerationRequest] = deque()
        self._wake = threading.Condition()
        self._batch = KVBatch(self.device)
        self._choices: list[_Choice] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.steps = 0

    # ---- API side (any thread) -------------------------------------------------------

    def start(self) -> Engine:
        self._thread = threading.Thread(target=self._run, name="codemill-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def submit(self, request: GenerationRequest) -> None:
        with self._wake:
            if self._stopping:
                raise EngineStopped("the server is shutting down")
            if len(self._waiting) >= self.max_queue:
                raise QueueFull(f"{len(self._waiting)} requests are already waiting")
            self._waiting.append(request)
            self.observer.queue_depth(len(self._waiting))
            self._wake.notify()

    def wake(self) -> None:
        """Make the loop look at cancellations now (an idle loop otherwise sleeps)."""
        with self._wake:
            self._wake.notify()

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    @property
    def active(self) -> int:
        return len(self._choices)

    # ---- engine thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            with torch.inference_mode():
                self._loop()
        except Exception as err:  # noqa: BLE001 - report to every waiting client, then die loudly
            log.exception("decoding loop failed")
            for request in {choice.request for choice in self._choices} | set(self._waiting):
                request.emit(RequestFailed(f"generation failed: {type(err).__name__}: {err}"))
            raise

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._waiting and not self._choices:
                    self._wake.wait()
                if self._stopping:
                    self._finish_all("shutdown")
                    return
            self._drop_finished_requests()
            self._admit()
            if self._choices:
                self._decode_step()

    def _drop_finished_requests(self) -> None:
        """Cancelled or timed-out requests leave before the next step."""
        now = time.monotonic()
        with self._wake:
            waiting = list(self._waiting)
        for request in waiting:
            if request.cancelled or (request.deadline is not None and now > request.deadline):
                with self._wake:
                    self._waiting.remove(request)
                self._end_unstarted(request, now)
        for choice in self._choices:
            request = choice.request
            if choice.finished:
                continue
            if request.cancelled:
                self._finish(choice, FINISH_CANCELLED, request.cancel_reason or "cancelled")
            elif request.deadline is not None and now > request.deadline:
                self._finish(choice, FINISH_LENGTH, "time_limit", final_text=True)
        self._compact()

    def _end_unstarted(self, request: GenerationRequest, now: float) -> None:
        if request.cancelled:
            reason, finish = request.cancel_reason or "cancelled", FINISH_CANCELLED
        else:
            reason, finish = "time_limit", FINISH_LENGTH
        self.observer.cancelled(reason)
        for index in range(request.n):
            request.emit(ChoiceDone(index, "", finish, 0, reason))
        request.finished_at = now
        self.observer.request_finished(request)
        self.observer.queue_depth(len(self._waiting))

    def _admit(self) -> None:
        budget = PREFILL_TOKENS_PER_STEP
        while budget > 0:
            with self._wake:
                if not self._waiting or len(self._choices) + self._waiting[0].n > self.max_batch_size:
                    return
                request = self._waiting.popleft()
                self.observer.queue_depth(len(self._waiting))
            budget -= len(request.prompt_ids)
            self._start(request)

    def _start(self, request: GenerationRequest) -> None:
        logits, cache = prefill(self.model, request.prompt_ids, self.device)
        choices = [
            _Choice(
                request,
                index,
                CompletionTracker(request.context),
                None if request.sampling.greedy else make_generator(request.sampling.seed, index, self.device),
            )
            for index in range(request.n)
        ]
        first = next_tokens(
            logits.unsqueeze(0).expand(request.n, -1),
            [request.sampling] * request.n,
            [[]] * request.n,
            [choice.generator for choice in choices],
        )
        self._batch.add(cache, len(request.prompt_ids), copies=request.n)
        self._choices.extend(choices)
        for choice, token in zip(choices, first, strict=True):
            self._accept(choice, token)
        self._compact()

    def _decode_step(self) -> None:
        started = time.perf_counter()
        logits = self._batch.step(self.model, [choice.tokens[-1] for choice in self._choices])
        tokens = next_tokens(
            logits,
            [choice.request.sampling for choice in self._choices],
            [choice.tokens for choice in self._choices],
            [choice.generator for choice in self._choices],
        )
        for choice, token in zip(self._choices, tokens, strict=True):
            self._accept(choice, token)
        self.steps += 1
        self.observer.step(len(tokens), time.perf_counter() - started)
        self._compact()

    def _accept(self, choice: _Choice, token: int) -> None:
        """Record one new token of a choice; emit released text; finish the choice when it ends."""
        request = choice.request
        sampling = request.sampling
        if request.first_token_at is None:
            request.first_token_at = time.monotonic()
            self.observer.first_token(request)
        self.observer.tokens_generated(1)
        request.completion_tokens += 1
        if token in request.stop_token_ids and not sampling.ignore_eos:
            self._finish(choice, FINISH_STOP, "eos", final_text=True)
            return
        choice.tokens.append(token)
        text = self.tokenizer.decode(choice.tokens, skip_special_tokens=True)
        piece = choice.tracker.update(text)
        if piece:
            request.emit(Delta(choice.index, piece))
        if choice.tracker.done:
            self._finish(choice, FINISH_STOP, "stop_rule")
        elif len(choice.tokens) >= sampling.max_tokens:
            self._finish(choice, FINISH_LENGTH, "max_tokens", final_text=True)

    def _finish(self, choice: _Choice, finish_reason: str, detail: str, final_text: bool = False) -> None:
        request = choice.request
        if final_text and not choice.tracker.done:
            text = self.tokenizer.decode(choice.tokens, skip_special_tokens=True)
            piece = choice.tracker.update(text, final=True)
            if piece:
                request.emit(Delta(choice.index, piece))
        if finish_reason == FINISH_CANCELLED:
            self.observer.cancelled(detail)
        completion = choice.tracker.completion if choice.tracker.done else ""
        choice.finished = True
        request.emit(ChoiceDone(choice.index, completion or "", finish_reason, len(choice.tokens), detail))
        siblings = [c for c in self._choices if c.request is request]
        if all(c.finished for c in siblings):
            request.finished_at = time.monotonic()
            self.observer.request_finished(request)

    def _compact(self) -> None:
        """Finished choices leave the batch (and their cache rows with them)."""
        keep = [row for row, choice in enumerate(self._choices) if not choice.finished]
        if len(keep) != len(self._choices):
            self._batch.keep(keep)
            self._choices = [self._choices[row] for row in keep]
        self.observer.active_sequences(len(self._choices))

    def _finish_all(self, reason: str) -> None:
        for choice in self._choices:
            if not choice.finished:
                choice.request.cancel(reason)
                self._finish(choice, FINISH_CANCELLED, reason)
        for request in list(self._waiting):
            request.cancel(reason)
            self._end_unstarted(request, time.monotonic())
        self._waiting.clear()
        self._compact()
