"""Settings of `codemill eval`."""

from __future__ import annotations

from pydantic import Field

from data_platform.settings.base import Section


class EvalSettings(Section):
    benchmark: str = Field("humaneval", description="humaneval or a path to a problems JSONL file")
    samples: int = Field(1, ge=1, description="Completions sampled per problem")
