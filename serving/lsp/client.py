"""HTTP client for `codemill serve`'s ``/v1/completions``, streamed (Server-Sent Events).

The body is the one the VS Code extension sends (``ide/vscode/src/core/client.ts``), with the
codemill extensions ``suffix``, ``mode``, ``language`` and ``extra_context``. Cancelling the
task that awaits :meth:`ServeClient.complete` leaves the ``stream`` block, which closes the
connection before the answer is complete: that disconnect is how the server learns to stop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx2 as httpx


@dataclass(frozen=True)
class CompletionQuery:
    prefix: str
    suffix: str
    language: str
    mode: str
    max_tokens: int
    temperature: float
    model: str
    extra_context: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Completion:
    id: str
    text: str
    finish_reason: str | None
    model: str | None


class ServeError(Exception):
    """The server answered an error (``status`` set) or could not be reached (``status`` None)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


def completion_body(query: CompletionQuery, user: str, stream: bool = True) -> dict:
    return {
        "model": query.model,
        "prompt": query.prefix,
        "suffix": query.suffix,
        "max_tokens": query.max_tokens,
        "temperature": query.temperature,
        "n": 1,
        "stream": stream,
        "user": user,
        "mode": query.mode,
        "language": query.language,
        "extra_context": [{"path": path, "text": text} for path, text in query.extra_context],
    }


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as delay-seconds (the form codemill serve sends); dates are ignored."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def error_from_response(status: int, raw: bytes, retry_after: str | None) -> ServeError:
    """The server's own message from an OpenAI-style error body, else the start of the body."""
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        code = error.get("code")
        return ServeError(str(error["message"]), status, None if code is None else str(code),
                          retry_after_seconds(retry_after))
    if isinstance(error, str) and error:
        return ServeError(error, status, None, retry_after_seconds(retry_after))
    detail = raw.decode(errors="replace").strip()[:200] or "no message"
    return ServeError(f"HTTP {status}: {detail}", status, None, retry_after_seconds(retry_after))


class SseReader:
    """Collects the ``data:`` payloads of Server-Sent Events from text lines."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """One line in; the event's data when this line ends an event."""
        if line == "":
            data, self._data = "\n".join(self._data), []
            return data or None
        if line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))
        return None  # comments (":"), "event:", "id:", "retry:" carry nothing we use


def apply_chunk(completion: Completion, data: str) -> Completion:
    """The completion with one streamed chunk added (``[DONE]`` is handled by the caller)."""
    try:
        chunk = json.loads(data)
    except ValueError as err:
        raise ServeError(f"malformed stream chunk from server: {data[:200]}", 502) from err
    if not isinstance(chunk, dict):
        raise ServeError(f"malformed stream chunk from server: {data[:200]}", 502)
    if chunk.get("error"):
        raise error_from_response(500, data.encode(), None)
    choices = chunk.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    return Completion(
        id=completion.id or str(chunk.get("id") or ""),
        text=completion.text + (choice.get("text") or ""),
        finish_reason=choice.get("finish_reason") or completion.finish_reason,
        model=completion.model or chunk.get("model"),
    )


class ServeClient:
    def __init__(self, server_url: str, api_key: str | None, user: str, timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None, user_agent: str = "codemill-lsp") -> None:
        self.server_url = server_url.rstrip("/")
        self.user = user
        self.timeout_s = timeout_s
        headers = {"User-Agent": user_agent}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(headers=headers, transport=transport, timeout=httpx.Timeout(timeout_s))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post_events(self, events: list[dict]) -> None:
        """``POST /v1/events`` with one batch; raises ServeError when the server refuses it."""
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._http.post(self.server_url + "/v1/events", json={"events": events})
        except TimeoutError as err:
            raise ServeError(f"{self.server_url} did not take events within {self.timeout_s:g} s") from err
        except httpx.TransportError as err:
            raise ServeError(f"cannot reach {self.server_url}: {err or type(err).__name__}") from err
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content, response.headers.get("retry-after"))

    async def complete(self, query: CompletionQuery, request_group: int | None = None,
                       on_text: Callable[[str], None] | None = None) -> Completion:
        """One streamed completion; raises ServeError on an error answer, timeout or no server."""
        headers = {"Accept": "text/event-stream"}
        if request_group is not None:
            headers["X-Request-Group"] = str(request_group)
        body = completion_body(query, self.user)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._stream(body, headers, on_text)
        except TimeoutError as err:
            raise ServeError(f"{self.server_url} did not answer within {self.timeout_s:g} s") from err
        except httpx.TransportError as err:
            raise ServeError(f"cannot reach {self.server_url}: {err or type(err).__name__}") from err

    async def _stream(self, body: dict, headers: dict, on_text) -> Completion:
        url = self.server_url + "/v1/completions"
        async with self._http.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code >= 400:
                raw = await response.aread()
                raise error_from_response(response.status_code, raw, response.headers.get("retry-after"))
            if "text/event-stream" not in response.headers.get("content-type", ""):
                return apply_chunk(Completion("", "", None, None), (await response.aread()).decode())
            completion, reader = Completion("", "", None, None), SseReader()
            async for line in response.aiter_lines():
                data = reader.feed(line)
                if data is None:
                    continue
                if data.strip() == "[DONE]":
                    break
                before = completion.text
                completion = apply_chunk(completion, data)
                if on_text is not None and completion.text != before:
                    on_text(completion.text)
            return completion
