"""One writer per lake: the lock file on a local lake (the S3 variant runs against moto in
tests/integration/test_lake_s3.py)."""

import json
import os
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


# --- the mechanism is configuration (docs/decisions/0178) -------------------------------------

def _lake(root, *more):
    return load_config(overrides=[f"lake.root={root}", *more], environ={}).lake


@pytest.mark.parametrize(("root", "expected"), [
    ("/tmp/lake", "file"), ("s3://bucket/lake", "s3"), ("s3a://bucket/lake", "s3"), ("gs://bucket/lake", "object_store"),
    ("abfss://lake@account.dfs.core.windows.net/prefix", "object_store"),
])
def test_auto_picks_the_mechanism_by_scheme(root, expected):
    assert lake_lock.backend(_lake(root)) == expected


def test_a_mechanism_that_cannot_reach_the_lake_is_refused_by_name():
    with pytest.raises(lake_lock.WriterLockUnsupported, match="writer_lock_backend=s3 cannot lock lake gs://"):
        lake_lock.backend(_lake("gs://bucket/lake", "lake.writer_lock_backend=s3"))


def test_object_store_settings_map_the_lake_options(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    url, config, client = lake_lock.object_store_settings(_lake("s3a://bucket/lake").root)
    assert url == "s3://bucket/lake" and client == {"allow_http": True}
    assert config["aws_access_key_id"] == "key" and config["aws_endpoint"] == "http://127.0.0.1:9000"
    assert "aws_s3_allow_unsafe_rename" not in config  # delta-rs' key, not a store setting
    # A GCS lake takes its own keys from lake.storage_options; the AWS environment is not for it.
    lake = load_config(overrides=["lake.root=gs://bucket/lake"], environ={}).lake.model_copy(
        update={"storage_options": {"GOOGLE_SERVICE_ACCOUNT_PATH": "/keys/sa.json"}})
    from data_platform.storage import register_options

    register_options(lake.root, lake.storage_options)
    url, config, client = lake_lock.object_store_settings(lake.root)
    assert (url, config, client) == ("gs://bucket/lake", {"google_service_account_path": "/keys/sa.json"}, {})


def test_object_store_mechanism_on_a_local_folder(tmp_path):
    """The generic path end to end, offline: conditional create through object_store, a second
    process refused, release by ETag; a stale lock it cannot compare-and-swap is a clear error."""
    more = ["lake.writer_lock=on", "lake.writer_lock_backend=object_store"]
    config = _config(tmp_path).model_copy(update={"lake": _lake(tmp_path / "lake", *more)})
    path = config.lake.root / "_locks" / "writer.json"
    with lock_held_elsewhere([f"lake.root={config.lake.root}", *more]) as holder:
        assert json.loads(path.read_text())["job"] == "ingest"
        with pytest.raises(lake_lock.WriterLockHeld, match=r"ingest, pid \d+ .*one writer per lake"):
            lake_lock.hold(config, "refine")
    assert holder.returncode == 0 and not path.exists()
    lake_lock.hold(config, "refine")
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lake_lock.release(config.lake.root)
    assert not path.exists()
    path.write_text(json.dumps({"job": "crashed", "pid": 1, "host": "gone", "acquired_at": 0, "expires_at": 1}))
    with pytest.raises(lake_lock.WriterLockUnsupported, match="cannot replace a stale lock atomically.*Delete .*writer.json by hand"):
        lake_lock.hold(config, "refine")


def test_a_store_without_atomic_create_is_a_clear_error():
    config = load_config(overrides=["lake.root=hdfs://namenode/lake"], environ={})
    with pytest.raises(lake_lock.WriterLockUnsupported, match=r"no writer lock for hdfs://namenode/lake.*writer_lock=off"):
        lake_lock.hold(config, "ingest")
