"""The FastAPI application: routers, OpenAI-shaped errors, size limit and access log."""

from __future__ import annotations

from fastapi import FastAPI

from serving.api import generation, operations
from serving.api.errors import install_error_handlers
from serving.api.middleware import AccessLog, BodyLimit
from serving.api.state import ServerState


def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(
        title="codemill serve",
        description="OpenAI-compatible completions for code editors (fill-in-the-middle, editor modes, events)",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.serve = state
    install_error_handlers(app)
    app.include_router(operations.build_router(state))
    app.include_router(generation.build_router(state))
    app.add_middleware(
        BodyLimit,
        limit=state.settings.max_request_bytes,
        on_reject=lambda: state.metrics.rejected.labels(reason="too_large").inc(),
    )
    app.add_middleware(AccessLog, metrics=state.metrics)  # outermost: sees every answer, 413 included
    return app
