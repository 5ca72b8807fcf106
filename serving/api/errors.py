"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}`` with the right status.

Every invalid request is a 400, including what FastAPI would answer 422 for (a wrong type,
a value out of range, an unknown field) and a body that is not JSON; official clients map
400 to ``BadRequestError`` and show the message.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

INVALID_REQUEST = "invalid_request_error"


class ApiError(Exception):
    """An error answered to the client as it is."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,  # noqa: A002 - OpenAI's field name
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code,
                          **self.extra}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str, param: str | None = None, code: str | None = None, **extra: Any) -> ApiError:
    return ApiError(400, message, param=param, code=code, extra=extra)


_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "null"}


def _is_type_tag(part) -> bool:
    """pydantic names the union member that failed in ``loc`` (``str``, ``list[int]``): not a field."""
    return isinstance(part, str) and (part.lower() in _TYPE_TAGS or "[" in part or "-" in part)


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    first = errors[0]
    location = [str(part) for part in first.get("loc", ()) if part != "body" and not _is_type_tag(part)]
    param = ".".join(location) or None
    kind = first.get("type", "")
    if not location and kind in ("model_attributes_type", "dict_type", "missing"):
        return "the request body must be a JSON object (Content-Type: application/json)", None
    if kind == "json_invalid":
        return "the request body is not valid JSON: " + str(first.get("ctx", {}).get("error", "")), None
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}", param
    if kind == "missing":
        return f"{param} is required", param
    message = first.get("msg", "invalid value")
    # Union types list one error per member; the first one says enough.
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 and kind != "union_tag_invalid" else ""
    return f"{param}: {message}{more}" if param else f"{message}{more}", param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> JSONResponse:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, err: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(list(err.errors()))
        return bad_request(message, param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code)
        detail = err.detail if isinstance(err.detail, str) else json.dumps(err.detail)
        return ApiError(err.status_code, detail, code=code, headers=getattr(err, "headers", None)).response()
