"""Run ids, the code version every run records, stage timings, and the one lineage error.

Every ``ops.*_runs`` row carries a ``run_id`` from :func:`new_run_id` (``<kind>-<UTC time>-<hex>``,
sortable by start time, unique without coordination) and a ``code_version`` from
:func:`code_version`. Standard library only: the CLI imports this for ``--version``.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DISTRIBUTION = "codemill"
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout, when running from one


class LineageError(ValueError):
    """A run cannot start on the data or model it asked for; the message says why in one line."""


def package_version() -> str:
    """The installed distribution's version; ``0.0.0+source`` when run from an uninstalled checkout."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0.0.0+source"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@cache
def code_version() -> str:
    """``codemill <version> git <commit>[+dirty]``: what a run records as the code that made it.

    Cached per process: the tree does not change under a running job, and ``git status`` on a
    large checkout costs tens of milliseconds per call.
    """
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no") if commit else ""
    return f"{DISTRIBUTION} {package_version()} git {commit or 'unknown'}{'+dirty' if dirty else ''}"


def now() -> datetime:
    """The current time in UTC, as every ``ops.*`` timestamp is recorded."""
    return datetime.now(UTC)


def new_run_id(kind: str) -> str:
    """``<kind>-YYYYmmdd-HHMMSS-<6 hex>`` (e.g. ``ingest-20261201-064300-1a2b3c``)."""
    if not kind or not kind.replace("_", "").isalnum():
        raise ValueError(f"run kind must be a short word, got {kind!r}")
    return f"{kind}-{now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


@contextmanager
def timed(seconds: MutableMapping[str, float], name: str) -> Iterator[None]:
    """Record the wall seconds of the block under ``seconds[name]`` (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = round(time.perf_counter() - started, 3)
