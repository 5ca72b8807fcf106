"""ASGI middleware: request size limit and the structured access log.

Both are plain ASGI (not Starlette's ``BaseHTTPMiddleware``, which buffers streaming
responses and hides client disconnects from the endpoint: cancellation depends on them).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from serving.api.errors import ApiError

access_log = logging.getLogger("codemill.serve.access")


class BodyLimit:
    """Answer 413 to a body over ``limit`` bytes (by Content-Length, or as it streams in)."""

    def __init__(self, app, limit: int, on_reject=None) -> None:
        self.app = app
        self.limit = limit
        self.on_reject = on_reject

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send, int(declared))
            return
        # Read the body up front (it is small: at most `limit`), then replay it to the app;
        # later receive() calls go to the server, so disconnects still reach the endpoint.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._reject(scope, receive, send, size)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send, size: int) -> None:
        if self.on_reject is not None:
            self.on_reject()
        error = ApiError(
            413,
            f"request body is {size} bytes or more; the limit is {self.limit} (serve.max_request_bytes)",
            code="request_too_large",
        )
        await error.response()(scope, receive, send)


class AccessLog:
    """One JSON line per request on the ``codemill.serve.access`` logger.

    Endpoints add fields through ``scope["state"]["access"]`` (model, token counts, finish
    reasons); prompt and completion text appear only when ``serve.log_prompts`` is on.
    """

    def __init__(self, app, metrics=None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record: dict[str, Any] = {"request_id": uuid.uuid4().hex[:16]}
        scope.setdefault("state", {})["access"] = record
        status = {"code": 500}

        async def send_logged(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", record["request_id"].encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            entry = {
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "method": scope["method"],
                "path": scope["path"],
                "status": status["code"],
                "duration_ms": round(seconds * 1000, 1),
                "client": (scope.get("client") or ("?",))[0],
                **record,
            }
            access_log.info(json.dumps(entry, default=str))
            if self.metrics is not None:
                self.metrics.requests.labels(endpoint=endpoint, status=str(status["code"])).inc()
                self.metrics.request_seconds.labels(endpoint=endpoint).observe(seconds)
