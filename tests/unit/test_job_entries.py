"""One entry per job: `codemill <job>` and ``jobs/<job>.py`` take the same options and call the same function."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from data_platform.ingest.entry import OPTIONS as INGEST_OPTIONS
from data_platform.ingest.entry import IngestOptions, NoSourcesError, choose_sources
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]


def _cli_options(command: str) -> tuple[str, ...]:
    from codemill.cli.main import _register_commands, app

    _register_commands()
    click_command = typer.main.get_command(app).commands[command]
    return tuple(opt for param in click_command.params for opt in param.opts if opt.startswith("--")
                 and opt != "--help")


def _job_options(job: str) -> tuple[str, ...]:
    module = importlib.import_module(f"jobs.{job}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return tuple(opt for action in parser._actions for opt in action.option_strings
                 if opt.startswith("--") and opt != "--help")


@pytest.mark.parametrize(("job", "declared"), [("ingest", INGEST_OPTIONS), ("train", None)])
def test_cli_and_job_take_the_same_options(job, declared):
    if declared is None:
        from training.entry import OPTIONS as declared
    assert _cli_options(job) == declared
    assert _job_options(job) == declared


def test_demo_adds_the_demo_corpus_to_given_sources(tmp_path):
    config = make_config(tmp_path)
    mine = str(tmp_path / "repo")
    with_demo = choose_sources(IngestOptions(sources=[mine], demo=True), config)
    assert with_demo[0] == mine and len(with_demo) > 1
    assert choose_sources(IngestOptions(sources=[mine]), config) == [mine]


def test_no_sources_is_refused_before_spark_starts(tmp_path):
    with pytest.raises(NoSourcesError, match="--demo"):
        choose_sources(IngestOptions(), make_config(tmp_path))
    # the job script says so in one line and exits 2, without a Spark session (seconds, not tens)
    done = subprocess.run([sys.executable, "jobs/ingest.py", f"lake.root={tmp_path}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "no sources: pass --source PATH_OR_URL, set ingest.sources in the config, or use --demo"]


def test_train_job_refuses_a_lake_without_gold_like_the_cli(tmp_path):
    job = subprocess.run([sys.executable, "jobs/train.py", "--model", "tiny", f"lake.root={tmp_path}",
                          "ray.address=local"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    cli = subprocess.run([str(Path(sys.executable).with_name("codemill")), "train", "--model", "tiny",
                          f"lake.root={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert job.returncode == cli.returncode == 2
    assert "gold.training_corpus does not exist" in job.stderr
    assert job.stderr.strip() == cli.stderr.strip()
