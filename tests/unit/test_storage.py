"""The storage seam: lake roots as URIs, and one set of credentials spelled for each engine."""

from pathlib import Path

import pytest

from data_platform import storage
from data_platform.config import ConfigError, load_config
from data_platform.storage import LakeURI


def test_local_and_file_roots_stay_paths(tmp_path):
    assert load_config(overrides=[f"lake.root={tmp_path}"], environ={}).lake.root == tmp_path
    config = load_config(overrides=[f"lake.root=file://{tmp_path}/lake"], environ={})
    assert config.lake.root == tmp_path / "lake" and isinstance(config.lake.root, Path)
    assert not config.lake.remote and config.lake.local_dir == tmp_path / "lake"
    assert config.lake.metastore_dir == tmp_path / "lake" / "_metastore"


def test_object_store_root_is_a_uri_that_never_becomes_a_local_path(tmp_path):
    config = load_config(overrides=["lake.root=s3://bucket/some/prefix/", f"lake.cache_dir={tmp_path}"], environ={})
    root = config.lake.root
    assert root == LakeURI("s3://bucket/some/prefix") and config.lake.remote
    assert str(config.lake.table_path("gold.training_corpus")) == "s3://bucket/some/prefix/gold/training_corpus"
    with pytest.raises(TypeError):
        Path(root)  # no __fspath__: nothing can create a local folder named after the URI
    with pytest.raises(TypeError):
        open(root / "x.txt", "w")  # noqa: SIM115
    # The machine's own files for that lake live in a cache folder named by a hash.
    assert config.lake.metastore_dir.parent.parent == tmp_path / "lakes"
    assert "bucket" not in str(config.lake.local_dir) and "prefix" not in str(config.lake.local_dir)
    assert "root: s3://bucket/some/prefix" in config.to_yaml()
    assert not list(tmp_path.iterdir())  # parsing a config creates nothing


def test_gs_and_abfss_are_configuration_not_code():
    for uri in ("gs://bucket/lake", "abfss://container@account.dfs.core.windows.net/lake"):
        config = load_config(overrides=[f"lake.root={uri}"], environ={})
        assert str(config.lake.root) == uri and config.lake.remote
        assert storage.spark_conf(config.lake.root) == {}  # their connector comes from spark.conf
    with pytest.raises(ConfigError):
        load_config(overrides=["lake.root=s3://"], environ={})


def test_aws_environment_and_storage_options_reach_every_engine(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    config = load_config(overrides=["lake.root=s3://unit-lake/a", "lake.storage_options.AWS_ACCESS_KEY_ID=cfg-key"],
                         environ={})
    delta = storage.delta_options(config.lake.table_path("gold.training_corpus"))
    assert delta["AWS_ACCESS_KEY_ID"] == "cfg-key"  # lake.storage_options wins over the environment
    assert delta["AWS_SECRET_ACCESS_KEY"] == "env-secret"
    assert delta["AWS_ALLOW_HTTP"] == "true" and delta["AWS_REGION"] == "eu-west-1"
    conf = storage.spark_conf(config.lake.root)
    assert not any("key" in name or "token" in name for name in conf)  # launch settings show in `ps`
    secrets = storage.spark_secrets(config.lake.root)
    assert (secrets["fs.s3a.access.key"], secrets["fs.s3a.secret.key"]) == ("cfg-key", "env-secret")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"  # s3:// → S3A
    filesystem, path = storage.filesystem(config.lake.root / "_quality")
    assert filesystem.type_name == "s3" and path == "unit-lake/a/_quality"
    assert storage.delta_options("/local/lake/gold/x") is None  # local tables: nothing changes


def test_local_files_go_through_the_same_calls(tmp_path):
    target = tmp_path / "reports" / "r.txt"
    storage.write_text(target, "hello")
    assert storage.read_text(target) == "hello" and storage.exists(target)
    assert storage.list_names(tmp_path / "reports") == ["r.txt"] and storage.list_names(tmp_path / "none") == []
    work = tmp_path / "work"
    (work / "a").mkdir(parents=True)
    (work / "a" / "b.txt").write_text("x")
    assert storage.upload_tree(work, tmp_path / "copy") == 1
    assert (tmp_path / "copy" / "a" / "b.txt").read_text() == "x"


def test_submit_for_an_s3_lake_adds_hadoop_aws_and_keeps_keys_off_the_command_line(monkeypatch, capsys, tmp_path):
    from codemill.cli.main import main
    from data_platform.spark import hadoop_version

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSUBMIT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "submit-secret-value")
    try:
        main(["submit", "--dry-run", "jobs/tables_init.py", "lake.root=s3://submit-lake/x", f"lake.cache_dir={tmp_path}"])
    except SystemExit as done:
        assert not done.code
    out = capsys.readouterr().out
    assert f"org.apache.hadoop:hadoop-aws:{hadoop_version()}" in out and "io.delta:delta-spark" in out
    assert "spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:9000" in out
    assert "submit-secret-value" not in out and "AKIDSUBMIT" not in out
    assert "hadoop-aws" not in _submit_line(capsys, main, f"lake.root={tmp_path / 'local'}")  # local lakes: no download


def _submit_line(capsys, main, *overrides) -> str:
    try:
        main(["submit", "--dry-run", "jobs/tables_init.py", *overrides])
    except SystemExit as done:
        assert not done.code
    return capsys.readouterr().out


def test_training_on_an_unreachable_object_store_fails_in_one_line(capsys, monkeypatch):
    from codemill.cli.main import main
    from tests.fixtures.s3 import free_port

    # Nothing listens there: the store is unreachable (fast, offline), as with a wrong endpoint.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(SystemExit) as done:
        # --verbose: no run log, so nothing tries to copy one to the (nonexistent) bucket at exit
        main(["--verbose", "train", "--max-steps", "1", "--run-name", "r1", "lake.root=s3://train-lake/x"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "cannot open run folder s3://train-lake/x/_train/r1:" in err and "Traceback" not in err


def test_connector_packages_of_spark_conf_survive_next_to_delta(tmp_path):
    from data_platform.spark import extra_packages

    path = tmp_path / "gcs.yaml"
    path.write_text("lake:\n  root: gs://bucket/lake\nspark:\n  conf:\n"
                    "    spark.jars.packages: com.google.cloud.bigdataoss:gcs-connector:3.1.9\n")
    config = load_config(path, environ={})
    assert extra_packages(config) == ["com.google.cloud.bigdataoss:gcs-connector:3.1.9"]
