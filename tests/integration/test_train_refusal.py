"""Training refuses gold versions that never passed their quality gate (no Ray needed to refuse)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.train import publish, write_gold
from training.lineage import LineageError, choose_table_version
from training.trainer import run_training

pytestmark = pytest.mark.integration


CODEMILL = str(Path(sys.executable).with_name("codemill"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CODEMILL, *args], capture_output=True, text=True, timeout=120)


def test_unpublished_versions_are_refused(lake_config):
    with pytest.raises(LineageError, match="does not exist"):
        choose_table_version(lake_config)
    v0 = write_gold(lake_config)
    with pytest.raises(LineageError, match="no published version"):
        choose_table_version(lake_config)
    result_id = publish(lake_config, v0)
    v1 = write_gold(lake_config)
    publish(lake_config, v1, success=False)  # failed gate: not published

    latest = choose_table_version(lake_config)
    assert (latest.table_version, latest.quality_result_id, latest.allow_unvalidated) == (
        v0,
        result_id,
        False,
    )
    with pytest.raises(LineageError, match=f"version {v1} is not published"):
        run_training(lake_config, table_version=v1)
    with pytest.raises(LineageError, match="has no version 7"):
        choose_table_version(lake_config, 7)
    forced = choose_table_version(lake_config, v1, allow_unvalidated=True)
    assert forced.allow_unvalidated and forced.quality_result_id is None

    done = run_cli("train", "--table-version", str(v1), f"lake.root={lake_config.lake.root}")
    err = done.stderr.strip()
    assert done.returncode != 0
    assert len(err.splitlines()) == 1 and "not published" in err and "--allow-unvalidated" in err

    # Of several published versions the newest is trained on, with the result that published it
    # (the chain's re-crawl case, formerly checked by a training run in test_whole_chain.py).
    v2 = write_gold(lake_config)
    newest = publish(lake_config, v2)
    chosen = choose_table_version(lake_config)
    assert (chosen.table_version, chosen.quality_result_id) == (v2, newest) and v2 > v1 > v0
