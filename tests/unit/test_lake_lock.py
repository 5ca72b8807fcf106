"""One writer per lake: the lock file on a local lake (the S3 variant runs against moto in
tests/integration/test_lake_s3.py)."""

import json
import time

import pytest

from data_platform import lake_lock
from data_platform.config import load_config
from tests.fixtures.writer_lock import lock_held_elsewhere


def _config(tmp_path, mode="on"):
    return load_config(overrides=[f"lake.root={tmp_path / 'lake'}", f"lake.writer_lock={mode}"], environ={})


@pytest.fixture(autouse=True)
def _forget_holds():
    yield
    lake_lock.release_all()


def test_a_second_process_is_refused_while_the_first_writes(tmp_path):
    config = _config(tmp_path)
    with lock_held_elsewhere([f"lake.root={config.lake.root}", "lake.writer_lock=on"]) as holder:
        with pytest.raises(lake_lock.WriterLockHeld, match=r"ingest, pid \d+ .*one writer per lake"):
            lake_lock.hold(config, "refine")
    assert holder.returncode == 0
    assert not (config.lake.root / "_locks" / "writer.json").exists()  # released at exit
    lake_lock.hold(config, "refine")  # free again
    assert json.loads((config.lake.root / "_locks" / "writer.json").read_text())["job"] == "refine"


def test_a_stale_lock_is_taken_over_and_holding_twice_is_one_hold(tmp_path):
    config = _config(tmp_path)
    path = config.lake.root / "_locks" / "writer.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"job": "crashed", "pid": 1, "host": "gone", "acquired_at": 0,
                                "expires_at": time.time() - 1}))
    lake_lock.hold(config, "gate")
    lake_lock.hold(config, "publish")  # the same process writing on: no second lock
    assert json.loads(path.read_text())["job"] == "gate"
    lake_lock.release(config.lake.root)
    assert not path.exists()


def test_auto_leaves_local_lakes_unlocked(tmp_path):
    config = _config(tmp_path, "auto")
    lake_lock.hold(config, "ingest")
    assert not (config.lake.root / "_locks").exists()
