"""A real Spark standalone cluster (master + one worker on 127.0.0.1) runs a codemill job."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.find_spark_home import _find_spark_home

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args, log_path, env):
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    spark_class = Path(_find_spark_home()) / "bin" / "spark-class"
    return subprocess.Popen([str(spark_class), *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True), log


def _wait_for(log_path: Path, text: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log_path.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not in {log_path} after {timeout}s:\n{log_path.read_text()[-2000:]}")


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_job_submitted_to_standalone_cluster_writes_delta(tmp_path):
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", SPARK_WORKER_DIR=str(tmp_path / "work"),
               PYSPARK_PYTHON=sys.executable, SPARK_LOG_DIR=str(tmp_path))
    port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()
    master_url = f"spark://127.0.0.1:{port}"
    table = tmp_path / "numbers"
    with ExitStack() as cleanup:
        master, log = _start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                              "--webui-port", str(master_ui)], tmp_path / "master.log", env)
        cleanup.callback(log.close)
        cleanup.callback(_stop, master)
        _wait_for(tmp_path / "master.log", "I have been elected leader")
        worker, log = _start(["org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                              "--cores", "2", "--memory", "1g", "--webui-port", str(worker_ui)],
                             tmp_path / "worker.log", env)
        cleanup.callback(log.close)
        cleanup.callback(_stop, worker)
        _wait_for(tmp_path / "worker.log", "Successfully registered with master")

        job = subprocess.run(
            [sys.executable, "-m", "codemill.cli.main", "submit", str(REPO / "tests/integration/jobs/write_numbers.py"),
             "--", "--table", str(table), "--rows", "500",
             f"spark.master={master_url}", f"lake.root={tmp_path / 'lake'}", "spark.driver_memory=1g"],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
        assert f"master={master_url} rows=500" in job.stdout
        # The worker really ran executors for this application.
        assert any((tmp_path / "work").glob("app-*/*/stderr"))

    assert master.poll() is not None and worker.poll() is not None  # both stopped
    rows = DeltaTable(str(table)).to_pyarrow_table().sort_by("id")
    assert rows.num_rows == 500 and rows.column("square").to_pylist()[-1] == 499 * 499
