from pathlib import Path

import pytest

from codemill.cli.main import split_global_arguments
from data_platform.config import ConfigError, is_override, parse_override
from serving.config import CodemillConfig, load_config


def test_embedded_default_is_local_and_under_home():
    config = load_config(environ={})
    assert config.spark.master == "local[*]"
    assert config.lake.root == Path("~/.codemill/lake").expanduser().resolve()
    assert config.lake.table_path("silver.files") == config.lake.root / "silver" / "files"


def test_yaml_file_merges_over_default_and_keeps_other_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("spark:\n  master: spark://10.0.0.1:7077\n")
    config = load_config(path, environ={})
    assert config.spark.master == "spark://10.0.0.1:7077"
    assert config.spark.driver_memory == "2g"  # untouched default survives the merge


def test_environment_sets_lake_root_and_overrides_win(tmp_path):
    config = load_config(environ={"CODEMILL_LAKE": str(tmp_path / "a")})
    assert config.lake.root == tmp_path / "a"
    config = load_config(overrides=[f"lake.root={tmp_path / 'b'}"], environ={"CODEMILL_LAKE": str(tmp_path / "a")})
    assert config.lake.root == tmp_path / "b"


def test_override_values_are_typed():
    assert parse_override("train.zero_stage=3") == (["train", "zero_stage"], 3)
    assert parse_override("spark.conf.spark.x=true")[0] == ["spark", "conf", "spark", "x"]
    config = load_config(overrides=["train.zero_stage=3", "spark.shuffle_partitions=4"], environ={})
    assert config.train.zero_stage == 3 and config.spark.shuffle_partitions == 4


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.zero_stage=5", "config error: train.zero_stage: Input should be less than or equal to 3 (got 5)"),
        ("spark.mastr=local", "config error: spark.mastr: unknown key"),
        ("spark.master=mesos://x", "config error: spark.master: Value error, must be local"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_key(override, expected):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override], environ={})
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_malformed_yaml_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("spark:\n  master: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML \(line \d+\)"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml", environ={})


def test_only_dotted_section_keys_count_as_overrides():
    assert is_override("spark.master=local[2]")
    assert is_override("train.zero_stage=3", CodemillConfig) and not is_override("train.zero_stage=3")
    assert not is_override("SELECT a.b=1 FROM t")
    assert not is_override("nosection.key=1")
    assert not is_override("--flag=x.y")


def test_global_arguments_are_taken_out_anywhere_on_the_line():
    rest, config_path, overrides, verbose = split_global_arguments(
        ["sql", "SELECT 1", "spark.master=local[2]", "--config", "c.yaml", "-v", "--format", "csv"]
    )
    assert rest == ["sql", "SELECT 1", "--format", "csv"]
    assert config_path == "c.yaml" and overrides == ["spark.master=local[2]"] and verbose


def test_each_package_owns_its_sections_and_the_root_composes_them(tmp_path):
    from data_platform.config import PlatformConfig
    from data_platform.config import load_config as load_layer_config
    from training.config import TrainingConfig

    assert not {"ray", "train", "eval", "serve"} & PlatformConfig.model_fields.keys()
    assert {"ray", "train", "eval"} <= TrainingConfig.model_fields.keys() and "serve" not in TrainingConfig.model_fields
    root = load_config(overrides=["train.max_steps=7", "serve.port=9001"], environ={})
    assert isinstance(root, TrainingConfig) and isinstance(root, PlatformConfig)
    assert (root.train.max_steps, root.serve.port) == (7, 9001)
    # a lower layer's loader does not know the sections above it: an error, as for a typo
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  max_steps: 3\n")
    with pytest.raises(ConfigError, match="train: unknown key"):
        load_layer_config(path, environ={})
    assert load_config(path, environ={}).train.max_steps == 3
