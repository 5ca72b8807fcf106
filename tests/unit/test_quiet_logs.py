"""Quiet by default: engine chatter goes to the run log, our progress lines and warnings reach the console."""

from __future__ import annotations

import logging
import sys

import pytest

from data_platform.ops import logs
from training.ray_console import WORKER_OUTPUT_LOGGER, print_progress_lines


@pytest.fixture()
def quiet(monkeypatch):
    """configure_logging(False) for one test, undone afterwards (handlers, levels, environment)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    for name in (*logs.quiet_engine_env(False), logs.VERBOSE_ENV):
        monkeypatch.delenv(name, raising=False)
    logs.configure_logging(False)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.captureWarnings(False)


def test_console_shows_our_warnings_and_engine_errors_only(capsys, quiet):
    logging.getLogger("ray.data._internal.datasource").info("Estimated parquet encoding ratio is 1.8")
    logging.getLogger("ray.train").warning("Failed to send resource request")
    logging.getLogger("DeepSpeed").warning("Setting accelerator to CPU")
    logging.getLogger("training.trainer").warning("corpus smaller than one global batch")
    logging.getLogger("ray").error("worker died")
    err = capsys.readouterr().err
    assert "corpus smaller than one global batch" in err and "worker died" in err
    assert "parquet" not in err and "resource request" not in err and "accelerator" not in err
    assert logs.is_verbose() is False


def test_run_log_file_keeps_what_the_console_drops(capsys, tmp_path, quiet):
    path = logs.attach_run_log(tmp_path, "train")
    assert path is not None and path.parent == tmp_path / "_logs" and path.name.startswith("train-")
    assert logs.attach_run_log(tmp_path, "train") == path  # once per process and lake
    other = logs.attach_run_log(tmp_path / "other-lake", "train")
    assert other is not None and other.parent == tmp_path / "other-lake" / "_logs"
    path = logs.attach_run_log(tmp_path, "train")  # back to the first lake: a file there again
    assert path is not None and path.parent == tmp_path / "_logs"
    logging.getLogger("ray.train").warning("Failed to send resource request")
    with logs.engine_output_to_log("training.export"):
        print("Processing zero checkpoint 'step_000004/zero'")
        sys.stderr.write("Loading weights: 100%|##########| 20/20\r\n")
    assert capsys.readouterr() == ("", "")
    for handler in logging.getLogger().handlers:
        if getattr(handler, "baseFilename", None) == str(path):
            handler.flush()
    text = path.read_text()
    assert "WARNING ray.train: Failed to send resource request" in text
    assert "INFO training.export: Processing zero checkpoint 'step_000004/zero'" in text
    assert "Loading weights: 100%" in text


def test_verbose_leaves_engine_output_on_the_console(monkeypatch, capsys):
    monkeypatch.setenv(logs.VERBOSE_ENV, "1")
    with logs.engine_output_to_log("training.export"):
        print("Processing zero checkpoint")
    assert "Processing zero checkpoint" in capsys.readouterr().out
    assert logs.quiet_engine_env(True) == {}
    assert logs.quiet_engine_env(False)["TQDM_DISABLE"] == "1"


def test_driver_prints_worker_progress_lines_and_logs_the_rest(capsys, caplog):
    batch = {
        "pid": 4242, "actor_name": "RayTrainWorker", "is_err": False,
        "lines": [
            "Setting up process group for: env:// [rank=0, world_size=2]",
            logs.PROGRESS_MARK + "[#####...............] step 1/4 loss 7.6350",
            "(prefix) " + logs.PROGRESS_MARK + "resumed at step 2, epoch 0, block 8",
            "Checkpoint successfully created at: Checkpoint(filesystem=local)",
        ],
    }
    with caplog.at_level(logging.INFO, logger=WORKER_OUTPUT_LOGGER):
        print_progress_lines(batch)
    assert capsys.readouterr().out.splitlines() == [
        "[#####...............] step 1/4 loss 7.6350", "resumed at step 2, epoch 0, block 8"]
    logged = [record.getMessage() for record in caplog.records]
    assert logged == ["(RayTrainWorker pid=4242) Setting up process group for: env:// [rank=0, world_size=2]",
                      "(RayTrainWorker pid=4242) Checkpoint successfully created at: Checkpoint(filesystem=local)"]
