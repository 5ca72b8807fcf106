"""Response bodies and stream chunks in OpenAI's shapes (legacy completions and chat)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from serving.api.jobs import ChoiceResult

DONE = "data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


@dataclass
class ResponseHeader:
    kind: str  # "text_completion" or "chat.completion"
    model: str
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        if not self.id:
            prefix = "cmpl" if self.kind == "text_completion" else "chatcmpl"
            self.id = f"{prefix}-{uuid.uuid4().hex}"

    @property
    def chat(self) -> bool:
        return self.kind != "text_completion"

    def _base(self, object_name: str) -> dict[str, Any]:
        return {"id": self.id, "object": object_name, "created": self.created, "model": self.model,
                "system_fingerprint": None}

    def response(self, results: list[ChoiceResult], prompt_tokens: int, completion_tokens: int,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self._base(self.kind)
        if self.chat:
            body["choices"] = [
                {"index": i, "message": {"role": "assistant", "content": r.text}, "logprobs": None,
                 "finish_reason": r.finish_reason}
                for i, r in enumerate(results)
            ]
        else:
            body["choices"] = [
                {"index": i, "text": r.text, "logprobs": None, "finish_reason": r.finish_reason}
                for i, r in enumerate(results)
            ]
        body["usage"] = usage(prompt_tokens, completion_tokens)
        if extra:
            body["codemill"] = extra
        return body

    def chunk(self, index: int, text: str | None, finish_reason: str | None = None,
              first: bool = False) -> dict[str, Any]:
        if self.chat:
            delta: dict[str, Any] = {}
            if first:
                delta["role"] = "assistant"
            if text:
                delta["content"] = text
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            body = self._base("chat.completion.chunk")
        else:
            choice = {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
            body = self._base("text_completion")
        body["choices"] = [choice]
        return body

    def usage_chunk(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        body = self._base("chat.completion.chunk" if self.chat else "text_completion")
        body["choices"] = []
        body["usage"] = usage(prompt_tokens, completion_tokens)
        return body
