"""Run folders (training.run_folder) and the local copies of object-store folders (storage.download_once).

The object-store side runs against moto in tests/integration/test_train_s3.py; here: the local
behaviour that must not change, the cache layout, and the download's all-or-nothing rename.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from data_platform import storage
from data_platform.storage import LakeURI
from tests.conftest import make_config
from training.run_folder import worker_env
from training.trainer import ray_storage, run_folder


def test_a_local_run_folder_is_its_own_copy_and_publishing_does_nothing(tmp_path):
    run = run_folder(make_config(tmp_path / "lake"), "r1")
    assert run.root == tmp_path / "lake" / "_train" / "r1" and run.local == run.root
    assert run.local_artifacts == run.root / "codemill" and not run.remote
    assert run.fetch("metrics.jsonl") is None
    (run.local_artifacts).mkdir(parents=True)
    (run.local_artifacts / "metrics.jsonl").write_text("{}\n")
    run.publish("metrics.jsonl")  # a no-op: nothing appears anywhere else
    assert run.fetch("metrics.jsonl") == run.local_artifacts / "metrics.jsonl"
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["lake", "_train", "r1", "codemill", "metrics.jsonl"])
    assert worker_env(run) == {} and ray_storage(make_config(tmp_path / "lake")) == (str(tmp_path / "lake" / "_train"),
                                                                                      None)


def test_a_remote_run_folder_works_in_a_cache_folder_named_by_a_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    config = make_config("s3://bucket/teams/lake", f"lake.cache_dir={tmp_path / 'cache'}",
                         "lake.storage_options={AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: k, AWS_SECRET_ACCESS_KEY: s}")
    run = run_folder(config, "r1")
    assert run.root == LakeURI("s3://bucket/teams/lake/_train/r1") and run.artifacts == run.root / "codemill"
    assert run.local.parent == tmp_path / "cache" / "runs" and "bucket" not in str(run.local)
    assert pickle.loads(pickle.dumps(run)) == run  # travels to every Ray Train worker
    # Workers get the lake's settings as the standard variables; Ray gets the same store as a filesystem.
    assert worker_env(run)["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9" and worker_env(run)["AWS_REGION"] == "eu-west-1"
    path, filesystem = ray_storage(config)
    assert path == "bucket/teams/lake/_train" and filesystem.type_name == "s3"


def test_train_storage_path_moves_the_run_folder_and_uses_the_lake_settings(tmp_path):
    config = make_config(tmp_path / "lake", "train.storage_path=s3://other/runs",
                         "lake.storage_options={AWS_ENDPOINT_URL: 'http://127.0.0.1:9'}")
    run = run_folder(config, "r2")
    assert run.root == LakeURI("s3://other/runs/r2") and run.remote
    assert storage.effective_options(run.root)["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"


def test_download_once_renames_a_whole_copy_into_place_and_reuses_it(tmp_path):
    source = tmp_path / "export"
    (source / "sub").mkdir(parents=True)
    (source / "config.json").write_text("{}")
    (source / "sub" / "weights.bin").write_bytes(b"\0" * 10)
    target = tmp_path / "cache" / "objects" / "abc"
    assert storage.download_once(source, target) == target
    assert (target / "sub" / "weights.bin").read_bytes() == b"\0" * 10
    (source / "config.json").write_text('{"changed": true}')
    storage.download_once(source, target)  # already there: not fetched again
    assert (target / "config.json").read_text() == "{}"
    assert [p.name for p in target.parent.iterdir()] == ["abc"]  # no staging folder left behind


def test_cached_copy_of_a_local_folder_is_the_folder(tmp_path):
    assert storage.cached_copy(tmp_path, tmp_path / "cache") == tmp_path
    assert storage.cached_copy(str(tmp_path), tmp_path / "cache") == Path(tmp_path).resolve()


def test_runs_record_their_config_without_storage_credentials(tmp_path):
    from training.trainer import recorded_config

    config = make_config(tmp_path / "lake", "lake.storage_options={AWS_SECRET_ACCESS_KEY: hush, AWS_SESSION_TOKEN: t, "
                         "AWS_ACCESS_KEY_ID: id, AWS_REGION: eu-west-1}")
    recorded = recorded_config(config)["lake"]["storage_options"]
    assert recorded == {"AWS_SECRET_ACCESS_KEY": "***", "AWS_SESSION_TOKEN": "***", "AWS_ACCESS_KEY_ID": "***",
                        "AWS_REGION": "eu-west-1"}
    assert config.lake.storage_options["AWS_SECRET_ACCESS_KEY"] == "hush"  # the live config keeps them
