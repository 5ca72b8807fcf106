"""Two Ray nodes started with `ray start` on 127.0.0.1; a 2-worker ZeRO-3 run uses both.

The same run checks ZeRO-3 itself: loss falls over 20 steps, eval loss on the valid split
is computed every 10 steps, and the consolidated export loads in plain transformers.

The nodes are separate process trees (head and worker), told apart by custom resources;
``STRICT_SPREAD`` places one training worker on each (tests/fixtures/ray_cluster.py starts
and stops them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.fixtures.ray_cluster import loopback_cluster
from tests.fixtures.train import publish, write_gold
from training.trainer import run_paths

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture()
def two_nodes(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with loopback_cluster() as cluster:
        yield cluster.address


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
