"""Ray Train + Ray Data + DeepSpeed on CPU with the tiny model, end to end.

Scenarios are combined to keep the suite short (each Ray Train start costs tens of seconds):
ZeRO-2, 2 workers: train 8 steps, rerun the same run name to 20 steps (step counter and data
position continue), kill one worker mid-way (Ray restarts from the last checkpoint), loss
falls, the export loads in plain transformers and generates, lineage is recorded.
ZeRO-3 (with eval on the valid split) runs in test_train_s3.py, across two nodes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.fixtures.train import publish, write_gold
from training.metrics import read_metrics
from training.trainer import TrainingError, run_paths, run_training

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAST = [
    "train.seq_len=128",
    "train.micro_batch_size=4",
    "train.workers=2",
    "train.lr=0.003",
    "train.warmup_steps=2",
    "train.log_every=5",
]


@pytest.fixture()
def ray_local(monkeypatch):
    import ray

    # As in test_train_s3: one auth mode for every Ray this test process starts.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(object_store_memory=1 << 30, include_dashboard=False, log_to_driver=True)
    yield
    ray.shutdown()


@pytest.fixture()
def published(tmp_path):
    config = make_config(tmp_path / "lake")
    version = write_gold(config)
    result_id = publish(config, version)
    return tmp_path / "lake", version, result_id


def _config(lake: Path, *overrides: str):
    return make_config(lake, *FAST, *overrides)


def _kill_rank_once(artifacts: Path, min_checkpoint_step: int, killed: dict) -> None:
    """Background: once Ray has registered a checkpoint at or after ``min_checkpoint_step`` and
    training went past it, SIGKILL rank 1.

    Registered means listed in Ray Train's checkpoint-manager snapshot: a checkpoint whose
    files exist but that the controller has not collected yet is not one Ray restarts from.
    """
    snapshot = artifacts.parent / "checkpoint_manager_snapshot.json"
    deadline = time.time() + 600
    while time.time() < deadline:
        steps = [row["step"] for row in read_metrics(artifacts / "metrics.jsonl")]
        try:
            latest = json.loads(snapshot.read_text())["latest_checkpoint_result"]["metrics"]["step"]
        except (OSError, ValueError, KeyError, TypeError):
            latest = 0
        if steps and latest >= min_checkpoint_step and steps[-1] > latest:
            pid = json.loads((artifacts / "workers" / "rank1.json").read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.update(pid=pid, at_step=steps[-1], registered=latest)
            return
        time.sleep(0.1)


def _generates(export_dir: Path) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(export_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(export_dir))
    ids = tokenizer("def fibonacci(n):", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
    return tokenizer.decode(out[0])


def test_zero2_resume_failure_restart_and_export(ray_local, published):
    lake, version, result_id = published
    temporary_checkpoints = set(Path(tempfile.gettempdir()).glob("ckpt-r*"))
    common = ["train.zero_stage=2", "train.eval_every=0"]
    first = run_training(
        _config(lake, *common, "train.max_steps=8", "train.checkpoint_every=4"), run_name="resume-me"
    )
    assert first.steps == 8
    _, artifacts = run_paths(_config(lake), "resume-me")
    run1 = read_metrics(artifacts / "metrics.jsonl")
    assert [row["step"] for row in run1] == list(range(1, 9))
    state = json.loads((artifacts / "data_state.json").read_text())
    # Each CPU worker computes on its share of the node's cores, not the one thread Ray's
    # OMP_NUM_THREADS would leave a worker reserving half a core.
    import ray

    share = max(1, int(ray.cluster_resources()["CPU"]) // 2)
    assert [json.loads((artifacts / "workers" / f"rank{r}.json").read_text())["torch_threads"]
            for r in (0, 1)] == [share, share]
    # ...and starts with the allocator that keeps the step's freed tensors (train.tune_allocator):
    # Ray's jemalloc really loaded, glibc's settings beside it.
    from training.allocator import allocator_env

    ranks = [json.loads((artifacts / "workers" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [rank["allocator_env"] for rank in ranks] == [allocator_env(True)] * 2
    assert [rank["allocator"] for rank in ranks] == ["jemalloc", "jemalloc"]
    assert state["step"] == 8 and state["position"]["blocks_in_epoch"] == 8 * 4 * 2

    killed: dict = {}
    killer = threading.Thread(target=_kill_rank_once, args=(artifacts, 10, killed), daemon=True)
    killer.start()
    # The rerun also recomputes activations in backward (same math, less memory).
    second = run_training(
        _config(
            lake,
            *common,
            "train.max_steps=20",
            "train.checkpoint_every=2",
            "train.activation_checkpointing=true",
        ),
        run_name="resume-me",
    )
    killer.join(timeout=5)
    assert killed, "the worker was never killed"
    assert second.steps == 20 and second.checkpoint_path.endswith("step_000020")
    # On a local lake the ranks save in place: both shards in the registered folder, and no
    # temporary copy left behind, even by the killed worker.
    assert len(list((Path(second.checkpoint_path) / "zero").glob("*optim_states.pt"))) == 2
    assert set(Path(tempfile.gettempdir()).glob("ckpt-r*")) <= temporary_checkpoints

    run2 = read_metrics(artifacts / "metrics.jsonl")[len(run1) :]
    steps = [row["step"] for row in run2]
    assert steps[0] == 9, "a rerun with the same name continues the step counter"
    restart_at = next(i for i in range(1, len(steps)) if steps[i] <= steps[i - 1])
    # The data continued: the resumed run saw none of the blocks the first run trained on.
    seen_first = {fp for row in run1 for fp in row["block_fingerprints"]}
    seen_second = {fp for row in run2[:restart_at] for fp in row["block_fingerprints"]}
    assert seen_second and not seen_first & seen_second
    # Ray restarted from the newest checkpoint it had registered when the worker died.
    restarted_from = steps[restart_at] - 1
    assert restarted_from % 2 == 0 and killed["registered"] <= restarted_from < killed["at_step"]
    # ... with its data position: the redone steps continue the resumed stream, not its start.
    before_kill = {row["step"]: row["block_fingerprints"] for row in run2[:restart_at]}
    redone = {
        row["step"]: row["block_fingerprints"] for row in run2[restart_at:] if row["step"] in before_kill
    }
    assert redone and not {fp for fps in redone.values() for fp in fps} & seen_first
    assert steps[-1] == 20
    final_state = json.loads((artifacts / "data_state.json").read_text())
    assert final_state["position"] == {"epoch": 0, "blocks_in_epoch": 20 * 8, "tokens_seen": 20 * 8 * 128}

    losses = {row["step"]: row["loss"] for row in run1 + run2}
    assert sum(losses[s] for s in (18, 19, 20)) < sum(losses[s] for s in (1, 2, 3)) - 0.3

    assert "fibonacci" in _generates(second.export_dir)
    assert (second.export_dir / "model.safetensors").is_file()
    assert (artifacts / "loss_curve.png").is_file() and list((artifacts / "tensorboard").iterdir())

    lineage = subprocess.run(
        [str(Path(sys.executable).with_name("codemill")), "lineage", "resume-me", f"lake.root={lake}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lineage.returncode == 0, lineage.stderr
    out = lineage.stdout
    assert f"@ version {version}" in out and result_id in out and "succeeded" in out
    assert "step_000020" in out and str(second.export_dir) in out


def test_a_run_the_machine_cannot_place_is_refused_instead_of_waiting(ray_local, published):
    # Ray Train would wait forever for two GPUs this machine's Ray does not have.
    lake, _, _ = published
    started = time.monotonic()
    with pytest.raises(TrainingError, match=r"cannot run the training workers: train.use_gpu asks for 2 GPU"):
        run_training(_config(lake, "train.use_gpu=true", "train.max_steps=2"), run_name="no-gpus")
    assert time.monotonic() - started < 120
    _, artifacts = run_paths(_config(lake), "no-gpus")
    assert not (artifacts / "workers").exists()  # refused before any worker started
