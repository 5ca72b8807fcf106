"""Request bodies: OpenAI's completion and chat fields, plus codemill's editor extensions.

Unknown fields are refused (400 "Unrecognized request argument"), as OpenAI does, so a
typo in an editor plugin does not silently change nothing. Extensions:

* ``mode``: ``none`` (default, plain OpenAI), ``line``, ``block`` or ``auto`` (training.completion)
* ``language``: the edited file's language (context headers, events, logs)
* ``extra_context``: ``[{path, text}]`` other files, nearest first, packed within a token budget
* ``ignore_eos``: keep decoding through end-of-sequence up to ``max_tokens`` (benchmarks)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Stop = str | list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamOptions(_Strict):
    include_usage: bool = False


class ContextFile(_Strict):
    path: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    text: str


class _Sampling(_Strict):
    model: str = "default"
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1)
    stop: Stop = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = None
    user: Annotated[str, StringConstraints(max_length=256)] | None = None
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    ignore_eos: bool = False

    @property
    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @model_validator(mode="after")
    def _few_stops(self):
        if len(self.stop_list) > 16:
            raise ValueError("stop: at most 16 stop sequences")
        if isinstance(self.stop, str) and not self.stop:
            raise ValueError("stop: a stop sequence cannot be empty")
        return self


class CompletionRequest(_Sampling):
    prompt: str | list[str] | list[int] | list[list[int]]
    suffix: str | None = None
    echo: bool = False
    logprobs: int | None = None
    best_of: int | None = None
    # codemill extensions
    mode: Literal["none", "line", "block", "auto"] = "none"
    language: Annotated[str, StringConstraints(max_length=64)] | None = None
    extra_context: Annotated[list[ContextFile], Field(max_length=64)] | None = None


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)


class ChatRequest(_Sampling):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_completion_tokens: int | None = Field(None, ge=1)


EventKind = Literal["shown", "accepted", "dismissed", "partially_accepted"]


class CompletionEvent(_Strict):
    completion_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    event: EventKind
    language: Annotated[str, StringConstraints(max_length=64)] | None = None
    accepted_chars: int | None = Field(None, ge=0)
    latency_ms: float | None = Field(None, ge=0)
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _chars_for_partial(self):
        if self.event == "partially_accepted" and self.accepted_chars is None:
            raise ValueError("accepted_chars is required for partially_accepted")
        return self


class EventBatch(_Strict):
    events: Annotated[list[CompletionEvent], Field(min_length=1, max_length=1000)]
