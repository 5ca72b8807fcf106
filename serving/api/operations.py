"""Operational endpoints (/health, /ready, /metrics, /v1/models) and POST /v1/events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter, ValidationError

from serving.api.errors import ApiError, bad_request
from serving.api.schemas import CompletionEvent, EventBatch
from serving.api.state import DEFAULT_ALIAS, ServerState

_event_body = TypeAdapter(CompletionEvent | EventBatch)


def event_row(state: ServerState, event: CompletionEvent, caller: str) -> dict[str, Any]:
    """An ops.completion_events row: the editor's event plus what the server knows of the completion."""
    served = state.served
    known = state.completions.get(event.completion_id)
    accepted = event.accepted_chars
    if accepted is None and event.event == "accepted" and known is not None:
        accepted = known.completion_chars
    return {
        "event_id": event.event_id or uuid.uuid4().hex,
        "completion_id": event.completion_id,
        "event": event.event,
        "language": event.language or (known.language if known else None),
        "accepted_chars": accepted,
        "completion_chars": known.completion_chars if known else None,
        "latency_ms": event.latency_ms,
        "mode": known.mode if known else None,
        "model_id": known.model_id if known else served.id,
        "model_run_id": known.model_run_id if known else served.run_id,
        "gold_table_version": known.gold_table_version if known else served.gold_table_version,
        "api_key_id": caller if caller.startswith("key-") else None,
        "request_user": known.user if known else None,
        "occurred_at": datetime.now(UTC),
        "server_id": state.server_id,
    }


def build_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    async def health() -> JSONResponse:
        alive = state.engine.alive or state.draining
        return JSONResponse({"status": "ok" if alive else "engine_down"}, status_code=200 if alive else 503)

    @router.get("/ready")
    async def ready() -> JSONResponse:
        if state.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        if not state.engine.alive:
            return JSONResponse({"status": "engine_down"}, status_code=503)
        return JSONResponse({
            "status": "ready",
            "model": state.served.id,
            "queue_depth": state.engine.queue_depth,
            "active_sequences": state.engine.active,
        })

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/v1/models")
    async def models(request: Request) -> JSONResponse:
        state.caller(request)
        return JSONResponse({"object": "list", "data": [state.served.card()]})

    @router.get("/v1/models/{model_id:path}")
    async def model(model_id: str, request: Request) -> JSONResponse:
        state.caller(request)
        state.check_model(model_id)
        card = state.served.card()
        if model_id == DEFAULT_ALIAS:
            card["codemill"]["alias"] = DEFAULT_ALIAS
        return JSONResponse(card)

    @router.post("/v1/events")
    async def events(request: Request) -> JSONResponse:
        caller = state.caller(request)
        if state.sink is None:
            raise ApiError(503, "completion events are disabled on this server", code="events_disabled")
        try:
            parsed = _event_body.validate_json(await request.body())
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"] if not str(part).startswith(("CompletionEvent",
                                                                                             "EventBatch")))
            raise bad_request(f"{where}: {first['msg']}" if where else first["msg"], param=where or None) from None
        items = parsed.events if isinstance(parsed, EventBatch) else [parsed]
        rows = [event_row(state, item, caller) for item in items]
        state.sink.add(rows)  # durable (write-ahead log, fsync'ed) before we answer
        for item in items:
            state.metrics.events.labels(event=item.event).inc()
        request.scope.setdefault("state", {}).setdefault("access", {}).update(events=len(rows), caller=caller)
        return JSONResponse({"received": len(rows)})

    return router
