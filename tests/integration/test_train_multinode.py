"""Two Ray nodes started with `ray start` on 127.0.0.1; a 2-worker ZeRO-3 run uses both.

The same run checks ZeRO-3 itself: loss falls over 20 steps, eval loss on the valid split
is computed every 10 steps, and the consolidated export loads in plain transformers.

The nodes are separate process trees (head and worker), told apart by custom resources;
``STRICT_SPREAD`` places one training worker on each. Both nodes are stopped even when the
test fails: each `ray start --block` runs in its own session and its whole process tree is
terminated by process id.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import make_config
from tests.fixtures.train import publish, write_gold
from training.trainer import run_paths

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_node(args: list[str], log: Path) -> subprocess.Popen:
    # Token auth (on by default for `ray start` in 2.60) needs the token shared by every node and
    # client; a throwaway cluster bound to 127.0.0.1 runs without it.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen(
        [RAY, "start", "--block", "--disable-usage-stats", *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a unit below
        env=env,
    )


def _stop_node(process: subprocess.Popen) -> None:
    """Terminate a `ray start --block` and every process it spawned (found by pid, not name)."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for proc in tree:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(tree, timeout=15)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait(timeout=15)


def _wait_for_nodes(address: str, count: int, timeout: float = 180) -> None:
    import ray

    deadline = time.time() + timeout
    while time.time() < deadline:
        alive = [node for node in ray.nodes() if node["Alive"]]
        if len(alive) >= count:
            return
        time.sleep(1)
    raise TimeoutError(f"only {len(alive)} of {count} Ray nodes joined {address}")


@pytest.fixture()
def two_nodes(monkeypatch):
    import ray

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    temp = Path(tempfile.mkdtemp(prefix="cmray-", dir="/tmp"))  # short: Ray's socket paths are length-limited
    nodes = []
    try:
        nodes.append(
            _start_node(
                [
                    "--head",
                    f"--port={port}",
                    "--node-ip-address=127.0.0.1",
                    "--num-cpus=2",
                    '--resources={"node_a": 1}',
                    "--include-dashboard=false",
                    f"--temp-dir={temp}",
                    "--object-store-memory=300000000",
                ],
                temp.with_suffix(".head.log"),
            )
        )
        deadline = time.time() + 120
        while not list(temp.glob("session_*")) and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        nodes.append(
            _start_node(
                [
                    f"--address={address}",
                    "--node-ip-address=127.0.0.1",
                    "--num-cpus=2",
                    '--resources={"node_b": 1}',
                    "--object-store-memory=300000000",
                ],
                temp.with_suffix(".worker.log"),
            )
        )
        ray.init(address=address)
        _wait_for_nodes(address, 2)
        yield address
    finally:
        ray.shutdown()
        for node in reversed(nodes):
            _stop_node(node)
        shutil.rmtree(temp, ignore_errors=True)


def test_zero3_two_workers_train_across_two_nodes(two_nodes, tmp_path):
    import ray
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.metrics import read_metrics

    lake = tmp_path / "lake"
    config = make_config(lake)
    version = write_gold(config)
    publish(config, version)
    # A separate driver process, as `ray job submit` would run it, through the real CLI.
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("codemill")),
            "train",
            "--workers",
            "2",
            "--zero-stage",
            "3",
            "--max-steps",
            "20",
            "--run-name",
            "two-nodes",
            f"lake.root={lake}",
            f"ray.address={two_nodes}",
            "train.placement_strategy=STRICT_SPREAD",
            "train.seq_len=128",
            "train.lr=0.003",
            "train.log_every=5",
            "train.eval_every=10",
            "train.checkpoint_every=20",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "run id: two-nodes" in done.stdout and f"version {version}" in done.stdout
    export_dir = Path(done.stdout.split("export dir: ")[1].split()[0])

    _, artifacts = run_paths(config, "two-nodes")
    node_of_rank = [
        json.loads((artifacts / "workers" / f"rank{r}.json").read_text())["node_id"] for r in (0, 1)
    ]
    assert node_of_rank[0] != node_of_rank[1]
    resources = {node["NodeID"]: node["Resources"] for node in ray.nodes()}
    labels = sorted(next(k for k in resources[n] if k.startswith("node_")) for n in node_of_rank)
    assert labels == ["node_a", "node_b"]

    metrics = read_metrics(artifacts / "metrics.jsonl")
    assert [row["step"] for row in metrics] == list(range(1, 21))
    assert metrics[-1]["loss"] < metrics[0]["loss"] - 0.3
    evals = [row["eval_loss"] for row in metrics if row["eval_loss"] is not None]
    assert len(evals) == 2 and evals[1] < evals[0]
    assert all(0 <= row["data_wait_fraction"] <= 1 and row["tokens_per_s"] > 0 for row in metrics)

    model = AutoModelForCausalLM.from_pretrained(str(export_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(export_dir))
    ids = tokenizer("def fibonacci(n):", return_tensors="pt")
    assert model.generate(**ids, max_new_tokens=8, do_sample=False).shape[1] > ids["input_ids"].shape[1]
