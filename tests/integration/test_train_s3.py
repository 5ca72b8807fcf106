"""Training, evaluation and serving with the lake on an S3 endpoint (moto), and no local lake.

(a) `codemill train` (Ray in its own process) reads gold from ``s3://…`` and keeps its whole run
folder there: manifest, base model, worker records, metrics, loss curve, Ray Train's checkpoints
(written through the pyarrow filesystem built from the lake's settings) and the export.
`codemill eval` then loads that export (downloaded once into the cache, under a hash) and writes
its report and ``ops.eval_results`` to the lake; serving's model source loads it the same way.

(b) A two-node Ray cluster on loopback (`ray start` head and worker, separate process trees told
apart by custom resources, tests/fixtures/ray_cluster.py) whose nodes have no S3 settings of their
own: whatever reaches the workers came with the job. It is started once for the module's two
cluster tests (tens of seconds to start and stop on two cores), after the local-Ray test above: while
it runs, a bare ``ray.init()`` in this machine would join it.
  - A 2-worker ZeRO-3 run through `codemill train` on a local lake, one worker per node
    (``STRICT_SPREAD``): loss falls over 20 steps, eval loss on the valid split every 10 steps,
    and the consolidated export loads in plain transformers.
  - A run on the S3 lake, one worker per node; the worker node is killed (SIGKILL, its whole
    process tree) once a checkpoint is on S3; the run fails, a worker node is started again, and
    rerunning the same run name resumes from the S3 checkpoint and finishes.

Kept small (a tiny model from config, a few steps of 64 tokens): Ray and DeepSpeed start-up
are most of the time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_platform import lake_lock, storage
from data_platform.ops.records import read_rows
from tests.conftest import make_config
from tests.fixtures.ray_cluster import loopback_cluster, wait_for_nodes
from tests.fixtures.s3 import list_keys, moto_endpoint
from tests.fixtures.train import publish, write_gold
from training.trainer import run_paths

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "codemill-train-lake"
SMALL = ["train.seq_len=64", "train.micro_batch_size=2", "train.workers=2", "train.lr=0.003",
         "train.warmup_steps=1", "train.eval_every=0", "train.log_every=1",
         # The loopback "nodes" share this machine's cores: one thread per worker, as on one node.
         "train.cpu_threads=1"]
CHECKPOINT = re.compile(r"/step_(\d{6})/data_state\.json$")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with moto_endpoint(tmp_path_factory.mktemp("moto"), BUCKET) as endpoint:
        yield endpoint


@pytest.fixture()
def s3_lake(s3, tmp_path, monkeypatch):
    """A published gold version on ``s3://BUCKET/<test>``; the writer lock released for the jobs."""
    env_aws, client = s3
    for key, value in env_aws.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    prefix = re.sub(r"[^a-z0-9]+", "-", os.environ["PYTEST_CURRENT_TEST"].split("::")[-1].split(" ")[0].lower())
    overrides = [f"lake.root=s3://{BUCKET}/{prefix}", f"lake.cache_dir={tmp_path / 'cache'}"]
    config = make_config(overrides[0].split("=", 1)[1], *overrides[1:])
    version = write_gold(config)
    publish(config, version)
    lake_lock.release(config.lake.root)  # the jobs below write ops.* rows: one writer at a time
    return config, overrides, prefix, client


@pytest.fixture(scope="module")
def two_nodes():
    """One loopback Ray cluster (head ``node_a``, worker ``node_b``) for the cluster tests below.

    Module-scoped, not session-scoped: a live cluster would capture every later bare
    ``ray.init()`` of the suite (Ray joins the newest cluster started on the machine)."""
    node_env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")  # this process joins as a client (ray.nodes())
        with loopback_cluster(node_env) as cluster:
            yield cluster


def _cli_env(env_aws: dict) -> dict:
    """A `codemill` child's environment: the S3 server's AWS variables only, no lake from outside."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_") and key != "CODEMILL_LAKE"}
    env.update(env_aws, PYTHONPATH=str(REPO_ROOT), RAY_AUTH_MODE="disabled")
    return env


def _codemill(env_aws: dict, cwd: Path, *args: str, timeout: int = 600, check: bool = True):
    done = subprocess.run([sys.executable, "-m", "codemill.cli.main", *args], cwd=cwd, env=_cli_env(env_aws),
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _named_after_the_lake(root: Path, prefix: str) -> list[Path]:
    return [path for path in root.rglob("*") if path.name in {"s3:", "s3", BUCKET, prefix}]


def test_train_eval_and_serve_from_an_s3_lake(s3, s3_lake, tmp_path):
    env_aws, _ = s3
    config, overrides, prefix, client = s3_lake
    work = tmp_path / "work"
    work.mkdir()
    run = f"s3://{BUCKET}/{prefix}/_train/s3-run"

    done = _codemill(env_aws, work, "train", "--run-name", "s3-run", "--max-steps", "4", *overrides, *SMALL,
                     "train.checkpoint_every=2")
    assert f"export dir: {run}/export" in done.stdout and "steps: 4" in done.stdout
    keys = set(list_keys(client, BUCKET, f"{prefix}/_train/s3-run/"))
    for name in ("codemill/run.json", "codemill/metrics.jsonl", "codemill/loss_curve.png",
                 "codemill/base_model/.complete", "codemill/base_model/config.json", "codemill/workers/rank0.json",
                 "codemill/workers/rank1.json", "codemill/data_state.json", "step_000004/data_state.json",
                 "export/model.safetensors", "export/codemill_lineage.json"):
        assert f"{prefix}/_train/s3-run/{name}" in keys, name
    metrics = [json.loads(line) for line in storage.read_text(f"{run}/codemill/metrics.jsonl").splitlines()]
    assert [row["step"] for row in metrics] == [1, 2, 3, 4]
    (row,) = [row for row in read_rows(config, "ops.training_runs") if row["run_id"] == "s3-run"]
    assert row["status"] == "succeeded" and row["export_path"] == f"{run}/export"
    assert row["checkpoint_path"] == f"{run}/step_000004"

    done = _codemill(env_aws, work, "eval", "--model", "s3-run", "--no-passk", *overrides)
    assert "held-out loss" in done.stdout
    report = done.stdout.split("json:   ")[1].split()[0]
    assert report.startswith(f"s3://{BUCKET}/{prefix}/_reports/eval/")
    assert json.loads(storage.read_text(report))["models"][0]["training_run_id"] == "s3-run"
    evaluated = [row for row in read_rows(config, "ops.eval_results") if row["training_run_id"] == "s3-run"]
    assert evaluated and {row["model_path"] for row in evaluated} == {f"{run}/export"}

    from serving.model_source import choose_model, load_served_model

    served = choose_model(config, "s3-run")
    (copy,) = (tmp_path / "cache" / "objects").iterdir()  # eval's download, found again by its hash
    assert served.load_spec == str(copy) and served.run_id == "s3-run" and served.gold_table_version is not None
    model, tokenizer = load_served_model(served, config.serve)
    ids = tokenizer("def add(a, b):", return_tensors="pt")
    assert model.generate(**ids, max_new_tokens=4, do_sample=False).shape[1] > ids["input_ids"].shape[1]

    # Nothing local is named after the lake; this machine's files sit in the cache, under hashes.
    assert _named_after_the_lake(tmp_path, prefix) == [] and not (REPO_ROOT / "s3:").exists()
    assert {path.name for path in (tmp_path / "cache").iterdir()} <= {"lakes", "runs", "objects"}


def _checkpoint_steps(client, prefix: str, run: str) -> list[int]:
    keys = list_keys(client, BUCKET, f"{prefix}/_train/{run}/")
    return sorted(int(match.group(1)) for key in keys if (match := CHECKPOINT.search(key)))


def test_zero3_two_workers_train_across_two_nodes(two_nodes, tmp_path):
    """Runs before the resume test below, which kills and replaces the worker node."""
    import ray
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.metrics import read_metrics

    lake = tmp_path / "lake"
    config = make_config(lake)
    version = write_gold(config)
    publish(config, version)
    # A separate driver process, as `ray job submit` would run it, through the real CLI.
    done = subprocess.run(
        [str(Path(sys.executable).with_name("codemill")), "train", "--workers", "2", "--zero-stage", "3",
         "--max-steps", "20", "--run-name", "two-nodes", f"lake.root={lake}", f"ray.address={two_nodes.address}",
         "train.placement_strategy=STRICT_SPREAD", "train.seq_len=128", "train.lr=0.003", "train.log_every=5",
         "train.eval_every=10", "train.checkpoint_every=20"],
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


def test_two_node_run_resumes_from_s3_after_its_worker_node_dies(two_nodes, s3, s3_lake, tmp_path):
    env_aws, _ = s3
    _, overrides, prefix, client = s3_lake
    work = tmp_path / "work"
    work.mkdir()
    cluster = two_nodes
    wait_for_nodes(cluster.address, 2)
    args = ["train", "--run-name", "spread", "--max-steps", "20", *overrides, *SMALL, "train.export=false",
            f"ray.address={cluster.address}", "train.placement_strategy=STRICT_SPREAD",
            "train.checkpoint_every=2"]
    first = subprocess.Popen([sys.executable, "-m", "codemill.cli.main", *args, "train.max_failures=0"], cwd=work,
                             env=_cli_env(env_aws), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    # Ray Train records a checkpoint (its snapshot) once every rank has uploaded its shard.
    while not list_keys(client, BUCKET, f"{prefix}/_train/spread/checkpoint_manager_snapshot.json"):
        assert first.poll() is None and time.monotonic() < deadline, "no checkpoint reached S3"
        time.sleep(0.2)
    registered = _checkpoint_steps(client, prefix, "spread")
    cluster.kill_worker()
    out, err = first.communicate(timeout=300)
    assert first.returncode != 0 and "failed" in err, out[-2000:] + err[-2000:]
    stored = _checkpoint_steps(client, prefix, "spread")
    assert stored and max(stored) < 20, stored

    cluster.start_worker()
    wait_for_nodes(cluster.address, 2)
    done = _codemill(env_aws, work, *args)
    found = re.search(r"resumed at step (\d+),", done.stdout)
    assert found, done.stdout[-3000:]
    resumed = int(found.group(1))
    assert resumed in stored and resumed >= min(registered) and "steps: 20" in done.stdout
    metrics = [json.loads(line) for line in
               storage.read_text(f"s3://{BUCKET}/{prefix}/_train/spread/codemill/metrics.jsonl").splitlines()]
    steps = [row["step"] for row in metrics]
    assert steps[-(20 - resumed):] == list(range(resumed + 1, 21))  # the rerun continued from the checkpoint
    assert set(steps) == set(range(1, 21))
    assert _checkpoint_steps(client, prefix, "spread")[-1] == 20
    assert _named_after_the_lake(tmp_path, prefix) == []
