"""POST /v1/completions and /v1/chat/completions: validate, plan prompts, run, answer or stream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from serving.api.errors import ApiError, bad_request
from serving.api.jobs import Job
from serving.api.openai_format import DONE, ResponseHeader, sse
from serving.api.schemas import ChatRequest, CompletionRequest, _Sampling
from serving.api.state import CompletionRecord, ServerState
from serving.engine.request import FINISH_CANCELLED, ChoiceDone, Delta, SamplingParams
from serving.prompts import PromptPlan, chat_plan, check_length, completion_plan
from serving.supersede import Superseded

GROUP_HEADER = "x-request-group"


def _sampling(state: ServerState, body: _Sampling, max_tokens: int | None) -> SamplingParams:
    settings = state.settings
    max_tokens = max_tokens or settings.default_max_tokens
    if max_tokens > settings.max_tokens_limit:
        raise bad_request(f"max_tokens: at most {settings.max_tokens_limit} (serve.max_tokens_limit)", "max_tokens")
    largest_n = min(settings.max_n, settings.max_batch_size)
    if body.n > largest_n:
        raise bad_request(f"n: at most {largest_n} completions per prompt", "n")
    bias = {}
    for key, value in (body.logit_bias or {}).items():
        if not key.lstrip("-").isdigit() or not 0 <= int(key) < state.vocab_size:
            raise bad_request(f"logit_bias: {key!r} is not a token id of this model", "logit_bias")
        bias[int(key)] = float(value)
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        logit_bias=bias,
        ignore_eos=body.ignore_eos,
    )


def _unsupported(body: CompletionRequest) -> None:
    if body.echo:
        raise bad_request("echo is not supported by this server", "echo", code="unsupported")
    if body.logprobs is not None:
        raise bad_request("logprobs is not supported by this server", "logprobs", code="unsupported")
    if body.best_of is not None and body.best_of != body.n:
        raise bad_request("best_of other than n is not supported by this server", "best_of", code="unsupported")


def _prompts(body: CompletionRequest) -> list[str | list[int]]:
    prompt = body.prompt
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise bad_request("prompt: give a string, a list of strings or token ids", "prompt")
    if isinstance(prompt[0], int):
        return [list(prompt)]  # type: ignore[arg-type]
    return list(prompt)  # type: ignore[arg-type]


def _request_group(request: Request, user: str | None) -> int | None:
    raw = request.headers.get(GROUP_HEADER)
    if raw is None:
        return None
    try:
        sequence = int(raw)
    except ValueError:
        raise bad_request(f"X-Request-Group must be an integer, got {raw[:40]!r}", "X-Request-Group") from None
    if not user:
        raise bad_request(
            "X-Request-Group needs the request's `user` field (the editor session its sequence belongs to)",
            "user",
        )
    return sequence


class GenerationCall:
    """Runs one accepted request to its answer: supersede bookkeeping, stream or JSON, logs."""

    def __init__(self, state: ServerState, request: Request, caller: str, body: _Sampling,
                 plans: list[PromptPlan], sampling: SamplingParams, header: ResponseHeader,
                 extra: dict[str, Any], language: str | None, mode: str) -> None:
        self.state, self.request, self.caller, self.body = state, request, caller, body
        self.header, self.extra, self.language, self.mode = header, extra, language, mode
        self.group = _request_group(request, body.user)
        deadline = time.monotonic() + state.settings.request_timeout_s
        self.job = Job(state.engine, plans, body.n, sampling, state.stop_ids, deadline)
        self.access = request.scope.setdefault("state", {}).setdefault("access", {})

    def _enter_group(self) -> None:
        if self.group is None:
            return
        try:
            self.state.groups.enter(self.caller, self.body.user, self.group, self.job.supersede)
        except Superseded as why:
            self.state.metrics.rejected.labels(reason="superseded").inc()
            raise ApiError(409, str(why), type="request_superseded", code="superseded") from None

    def _leave_group(self) -> None:
        if self.group is not None:
            self.state.groups.leave(self.caller, self.body.user, self.group, self.job.supersede)

    async def start(self):
        self._enter_group()
        try:
            self.job.submit()
        except ApiError:
            self._leave_group()
            raise
        self.state.metrics.prompt_tokens.inc(self.job.prompt_tokens)
        if self.body.stream:
            return StreamingResponse(
                self._stream(), media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await self._collect()

    async def _watch_disconnect(self) -> None:
        while True:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                self.job.cancel("disconnect")
                return

    async def _collect(self) -> JSONResponse:
        watcher = asyncio.create_task(self._watch_disconnect())
        try:
            async for _ in self.job.batches():
                pass
        finally:
            watcher.cancel()
            self._leave_group()
            self._finish_log()
        if self.job.superseded is not None:
            raise ApiError(409, str(self.job.superseded), type="request_superseded", code="superseded")
        body = self.header.response(self.job.results, self.job.prompt_tokens, self.job.completion_tokens, self.extra)
        return JSONResponse(body)

    async def _stream(self):
        metrics = self.state.metrics
        metrics.streams.inc()
        started: set[int] = set()
        try:
            async for batch in self.job.batches():
                texts: dict[int, str] = {}  # one event per choice per decoded batch
                for index, event in batch:
                    if isinstance(event, Delta):
                        texts[index] = texts.get(index, "") + event.text
                for index, text in texts.items():
                    yield sse(self.header.chunk(index, text, first=index not in started))
                    started.add(index)
                for index, event in batch:
                    if isinstance(event, ChoiceDone) and event.finish_reason != FINISH_CANCELLED:
                        yield sse(self.header.chunk(index, None, event.finish_reason, first=index not in started))
                        started.add(index)
            if self.job.superseded is not None:
                error = ApiError(409, str(self.job.superseded), type="request_superseded", code="superseded")
                yield sse(error.body())
            elif self.body.stream_options is not None and self.body.stream_options.include_usage:
                yield sse(self.header.usage_chunk(self.job.prompt_tokens, self.job.completion_tokens))
            yield DONE
        except ApiError as err:  # generation failed after the stream began: say so in-band
            yield sse(err.body())
            yield DONE
        finally:
            if not self.job.finished:
                self.job.cancel("disconnect")
            metrics.streams.dec()
            self._leave_group()
            self._finish_log()

    def _finish_log(self) -> None:
        job = self.job
        reasons = [r.finish_reason for r in job.results]
        self.access.update({
            "model": self.state.served.id,
            "caller": self.caller,
            "completion_id": self.header.id,
            "stream": self.body.stream,
            "mode": self.mode,
            "language": self.language,
            "prompt_tokens": job.prompt_tokens,
            "completion_tokens": job.completion_tokens,
            "ttft_ms": None if job.time_to_first_token is None else round(job.time_to_first_token * 1000, 1),
            "finish_reasons": reasons,
            "details": [r.detail for r in job.results],
            "request_group": self.group,
            "fim": self.extra.get("fim"),
        })
        if self.state.settings.log_prompts:
            self.access["prompts"] = [plan.context.prefix for plan in job.plans]
            self.access["completions"] = [r.text for r in job.results]
        if job.results and job.results[0].finish_reason not in (None, FINISH_CANCELLED):
            served = self.state.served
            self.state.completions.remember(self.header.id, CompletionRecord(
                served.id, served.run_id, served.gold_table_version, self.language, self.mode,
                len(job.results[0].text), self.body.user,
            ))


def build_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    def admitted_caller(request: Request) -> str:
        # A dependency: FastAPI runs it before it validates the body, so an unauthenticated
        # or rate-limited caller learns nothing about its request's validity.
        caller = state.caller(request)
        state.rate_limit(caller)
        return caller

    @router.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request, caller: str = Depends(admitted_caller)):
        state.check_model(body.model)
        _unsupported(body)
        sampling = _sampling(state, body, body.max_tokens)
        extra_context = [(item.path, item.text) for item in body.extra_context or []]
        prompts = _prompts(body)

        def plan_all() -> list[PromptPlan]:
            return [
                completion_plan(
                    state.tokenizer, state.served, state.settings, prompt, suffix=body.suffix, mode=body.mode,
                    stop=body.stop_list, extra_context=extra_context, language=body.language,
                )
                for prompt in prompts
            ]

        # Tokenising a large request takes milliseconds: off the event loop, which serves every stream.
        plans = await asyncio.to_thread(plan_all)
        for plan in plans:
            check_length(len(plan.ids), sampling.max_tokens, state.settings, state.context_length)
        extra = {"mode": body.mode, "fim": plans[0].fim}
        if body.extra_context:
            extra["extra_context"] = {"included": list(plans[0].context_paths),
                                      "truncated": list(plans[0].context_truncated)}
        header = ResponseHeader("text_completion", state.served.id)
        call = GenerationCall(state, request, caller, body, plans, sampling, header, extra, body.language, body.mode)
        return await call.start()

    @router.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest, request: Request, caller: str = Depends(admitted_caller)):
        state.check_model(body.model)
        sampling = _sampling(state, body, body.max_completion_tokens or body.max_tokens)
        messages = [{"role": m.role if m.role != "developer" else "system", "content": m.text} for m in body.messages]
        plan = chat_plan(state.tokenizer, messages, body.stop_list)
        check_length(len(plan.ids), sampling.max_tokens, state.settings, state.context_length)
        header = ResponseHeader("chat.completion", state.served.id)
        call = GenerationCall(state, request, caller, body, [plan], sampling, header, {}, None, "none")
        return await call.start()

    return router
