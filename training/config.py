"""The training package's configuration: the data platform's sections plus ``ray``, ``train`` and ``eval``.

Functions in ``training`` take a :class:`TrainingConfig`; the root configuration the CLI
loads (``serving.config.CodemillConfig``) is a subclass, so it is one.
"""

from __future__ import annotations

from pydantic import Field

from data_platform.config import PlatformConfig
from training.evaluation.settings import EvalSettings
from training.settings import RaySettings, TrainSettings


class TrainingConfig(PlatformConfig):
    ray: RaySettings = Field(default_factory=RaySettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
