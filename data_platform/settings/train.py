"""Settings of `codemill train` (read by the training package)."""

from __future__ import annotations

from pydantic import Field

from data_platform.settings.base import Section


class TrainSettings(Section):
    model: str = Field("tiny", description="tiny, smollm2, a Hugging Face hub id or a local directory")
    max_steps: int = Field(20, ge=1)
    workers: int = Field(2, ge=1)
    zero_stage: int = Field(2, ge=1, le=3)
