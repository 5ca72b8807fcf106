"""`make setup` leaves bytecode for the installed packages, so no process compiles them from source."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest


@pytest.mark.parametrize("name", ["torch", "transformers", "ray", "pyspark", "deepspeed",
                                  "great_expectations", "torch.distributed.tensor._ops._conv_ops"])
def test_setup_compiled_the_heavy_imports(name):
    # uv installs without bytecode, and with PYTHONDONTWRITEBYTECODE set Python never writes it:
    # scripts/bootstrap.sh compiles site-packages once per install.
    source = importlib.util.find_spec(name).origin
    assert Path(importlib.util.cache_from_source(source)).is_file(), f"no bytecode for {source}"
