"""The root configuration: every package's sections, as the CLI, jobs and the server load it.

It lives in ``serving`` because that is the top library layer (``codemill`` → ``jobs`` →
``serving`` → ``training`` → ``data_platform``): the root composes every section, so it must
sit above every package that owns one. :func:`load_config` is the loader with this model.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from data_platform.config import ConfigError
from data_platform.config import load_config as load_layer_config
from serving.settings import ServeSettings
from training.config import TrainingConfig

__all__ = ["CodemillConfig", "ConfigError", "load_config"]


class CodemillConfig(TrainingConfig):
    serve: ServeSettings = Field(default_factory=ServeSettings)


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
) -> CodemillConfig:
    """The whole configuration (default, file, ``CODEMILL_LAKE``, overrides); ConfigError on a problem."""
    return load_layer_config(path, overrides, environ, model=CodemillConfig)
