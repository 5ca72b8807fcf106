"""Shared fixtures: a throwaway lake per test and one real Spark session per test process.

Stage code addresses tables by path under ``config.lake.root``, so tests that need a
clean lake get one from ``lake_config`` while sharing the (slow to start) Spark session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from serving.config import CodemillConfig, load_config

# Keep test runs from touching a developer's real lake under ~/.codemill.
os.environ.pop("CODEMILL_LAKE", None)


def make_config(lake_root: Path, *overrides: str) -> CodemillConfig:
    return load_config(
        overrides=[f"lake.root={lake_root}", "spark.master=local[2]", "spark.shuffle_partitions=2", *overrides],
        environ={},
    )


@pytest.fixture(scope="session")
def session_lake(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("session-lake")


@pytest.fixture()
def lake_config(tmp_path) -> CodemillConfig:
    """A configuration whose lake is an empty directory of this test's own."""
    return make_config(tmp_path / "lake")


@pytest.fixture(scope="session")
def spark(session_lake):
    """A real local Spark session with the Delta Lake jars (started once per test process)."""
    from data_platform.spark import get_spark

    session = get_spark(make_config(session_lake))
    yield session
    session.stop()
