"""Optional decoding backend: vLLM's ``AsyncLLMEngine`` behind the same interface as :class:`Engine`.

For GPU deployments that want PagedAttention and vLLM's kernels while keeping codemill's
API: FIM prompts built from lineage, editor modes, request groups, events and metrics all
stay in codemill; only decoding moves. Install it in its own environment (``pip install
'codemill[vllm]'``: vLLM pins its own torch and needs a GPU) and start the server with
``serve.backend=vllm``. The model must be a directory or hub id vLLM can load (a codemill
export is one; the GGUF ``smollm2`` is not supported here).

Not exercised by codemill's test suite: vLLM cannot be installed next to the training
stack's torch on the CPU machines the tests run on. The adapter uses only vLLM's documented
engine API (``AsyncLLMEngine.from_engine_args``, ``generate`` with token-id prompts,
``abort``, ``SamplingParams``).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from serving.engine.engine import EngineObserver, EngineStopped, QueueFull
from serving.engine.request import (
    FINISH_CANCELLED,
    FINISH_LENGTH,
    FINISH_STOP,
    ChoiceDone,
    Delta,
    GenerationRequest,
    RequestFailed,
)
from training.completion import CompletionTracker

log = logging.getLogger(__name__)


class VllmEngine:
    def __init__(self, model_dir: str, tokenizer, *, max_batch_size: int = 16, max_queue: int = 64,
                 observer: EngineObserver | None = None, dtype: str = "auto") -> None:
        try:
            from vllm import AsyncEngineArgs, AsyncLLMEngine
        except ImportError as err:
            raise RuntimeError("serve.backend=vllm needs vLLM: pip install 'codemill[vllm]' (GPU only)") from err
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.observer = observer or EngineObserver()
        self._args = AsyncEngineArgs(model=model_dir, dtype=dtype, max_num_seqs=max_batch_size)
        self._engine_class = AsyncLLMEngine
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="codemill-vllm", daemon=True)
        self._in_flight: set[GenerationRequest] = set()
        self._stopping = False
        self._engine = None
        self.steps = 0

    def start(self) -> VllmEngine:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._create(), self._loop)
        self._engine = future.result()
        return self

    async def _create(self):
        return self._engine_class.from_engine_args(self._args)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    @property
    def queue_depth(self) -> int:
        return max(0, len(self._in_flight) - self.max_batch_size)

    @property
    def active(self) -> int:
        return min(len(self._in_flight), self.max_batch_size)

    def submit(self, request: GenerationRequest) -> None:
        if self._stopping:
            raise EngineStopped("the server is shutting down")
        if len(self._in_flight) >= self.max_batch_size + self.max_queue:
            raise QueueFull(f"{self.queue_depth} requests are already waiting")
        self._in_flight.add(request)
        self.observer.queue_depth(self.queue_depth)
        asyncio.run_coroutine_threadsafe(self._generate(request), self._loop)

    def wake(self) -> None:
        """Cancellation is polled on every vLLM output; nothing to wake."""

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        for request in list(self._in_flight):
            request.cancel("shutdown")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def _sampling(self, request: GenerationRequest):
        from vllm import SamplingParams

        s = request.sampling
        return SamplingParams(
            n=request.n, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, seed=s.seed,
            presence_penalty=s.presence_penalty, frequency_penalty=s.frequency_penalty,
            logit_bias=s.logit_bias or None, ignore_eos=s.ignore_eos,
            stop_token_ids=sorted(request.stop_token_ids), skip_special_tokens=True,
        )

    async def _generate(self, request: GenerationRequest) -> None:
        trackers = [CompletionTracker(request.context) for _ in range(request.n)]
        done = [False] * request.n
        counted = [0] * request.n
        try:
            async for output in self._engine.generate(
                {"prompt_token_ids": request.prompt_ids}, self._sampling(request), request.request_id
            ):
                if request.cancelled:
                    await self._engine.abort(request.request_id)
                    self.observer.cancelled(request.cancel_reason or "cancelled")
                    for index in range(request.n):
                        if not done[index]:
                            request.emit(ChoiceDone(index, "", FINISH_CANCELLED, counted[index], request.cancel_reason))
                    return
                for choice in output.outputs:
                    self._advance(request, choice, trackers, done, counted)
                if all(done):
                    await self._engine.abort(request.request_id)
                    return
        except Exception as err:  # noqa: BLE001 - the client hears about it, the server keeps serving
            log.exception("vLLM generation failed")
            request.emit(RequestFailed(f"generation failed: {type(err).__name__}: {err}"))
        finally:
            self._in_flight.discard(request)
            self.observer.active_sequences(self.active)
            self.observer.queue_depth(self.queue_depth)

    def _advance(self, request, choice, trackers, done, counted) -> None:
        index = choice.index
        if done[index]:
            return
        tokens = list(choice.token_ids)
        new = len(tokens) - counted[index]
        if new > 0:
            if request.first_token_at is None:
                import time

                request.first_token_at = time.monotonic()
                self.observer.first_token(request)
            self.observer.tokens_generated(new)
            request.completion_tokens += new
            counted[index] = len(tokens)
        finished = choice.finish_reason is not None
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        piece = trackers[index].update(text, final=finished)
        if piece:
            request.emit(Delta(index, piece))
        if trackers[index].done or finished:
            if not trackers[index].done:
                trackers[index].update(text, final=True)
            reason = FINISH_LENGTH if choice.finish_reason == "length" else FINISH_STOP
            done[index] = True
            request.emit(ChoiceDone(index, trackers[index].completion or "", reason, len(tokens),
                                    "stop_rule" if not finished else str(choice.finish_reason)))
