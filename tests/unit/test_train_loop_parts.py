"""Pure pieces of the training side: LR schedule, DeepSpeed config, MFU, data position, packing actor."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from training.data import DataPosition, PackBlocks
from training.loop import compile_wanted, deepspeed_config, warmup_cosine
from training.metrics import StepMetrics, flops_per_token, gpu_peak_tflops, mfu, plot_loss_curve, read_metrics
from training.packing import pack_documents
from training.settings import TrainSettings

SETTINGS = {"zero_stage": 2, "micro_batch_size": 4, "grad_accum": 2, "grad_clip": 1.0}


def test_warmup_then_cosine_to_floor():
    lrs = [warmup_cosine(step, warmup=4, total=20, min_ratio=0.1) for step in range(25)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:], strict=False))  # monotone decay after warmup
    assert lrs[20] == pytest.approx(0.1) and lrs[24] == pytest.approx(0.1)
    assert warmup_cosine(0, warmup=0, total=10, min_ratio=0.0) == pytest.approx(1.0)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_deepspeed_config_from_templates(stage):
    config = deepspeed_config(TrainSettings(**{**SETTINGS, "zero_stage": stage}), on_gpu=False)
    assert config["zero_optimization"]["stage"] == stage
    assert config["train_micro_batch_size_per_gpu"] == 4 and config["gradient_accumulation_steps"] == 2
    assert config["bf16"] == {"enabled": False}
    assert "offload_optimizer" not in config["zero_optimization"]
    assert config["zero_force_ds_cpu_optimizer"] is False  # a torch optimizer is passed in
    assert "auto" not in str(config)


def test_deepspeed_offload_and_bf16_on_gpu():
    config = deepspeed_config(
        TrainSettings(**{**SETTINGS, "zero_stage": 3, "offload_optimizer": True, "offload_params": True}), True
    )
    zero = config["zero_optimization"]
    assert zero["offload_optimizer"]["device"] == "cpu" and zero["offload_param"]["device"] == "cpu"
    assert config["bf16"] == {"enabled": True}


@pytest.mark.parametrize(
    ("value", "stage", "on_gpu", "compiled"),
    [
        ("auto", 2, True, True),  # measured faster on an H200 (decision 0197)
        ("auto", 1, True, True),
        ("auto", 3, True, False),  # ZeRO-3's parameter hooks break the graph
        ("auto", 2, False, False),  # compiling costs minutes on a few CPU cores
        (True, 2, False, True),
        (True, 3, True, True),
        (False, 2, True, False),
    ],
)
def test_compile_follows_the_setting_and_the_device(value, stage, on_gpu, compiled):
    settings = TrainSettings(**{**SETTINGS, "zero_stage": stage, "compile_model": value})
    assert compile_wanted(settings, on_gpu) is compiled


@pytest.mark.parametrize(("written", "read"), [("auto", "auto"), ("true", True), ("on", True), ("off", False)])
def test_compile_setting_reads_from_an_override(written, read):
    from serving.config import load_config

    config = load_config(overrides=[f"train.compile_model={written}"], environ={})
    assert config.train.compile_model == read


def test_compile_setting_refuses_other_words():
    from data_platform.config import ConfigError
    from serving.config import load_config

    with pytest.raises(ConfigError, match="compile_model"):
        load_config(overrides=["train.compile_model=sometimes"], environ={})


def test_mfu_matches_hand_computation():
    # Qwen2-0.5B-ish: 494M params, 24 layers, hidden 896, seq 2048, 77k tokens/s on a 989 TFLOP/s GPU
    flops = flops_per_token(494_000_000, 24, 896, 2048)
    assert flops == pytest.approx(6 * 494e6 + 12 * 24 * 896 * 2048)
    assert mfu(77_000, flops, 989.0) == pytest.approx(77_000 * flops / 989e12)
    assert gpu_peak_tflops("NVIDIA H200") == 989.0 and gpu_peak_tflops("some cpu") is None


def test_data_position_round_trip():
    position = DataPosition(epoch=1, blocks_in_epoch=48, tokens_seen=12_288)
    assert DataPosition.from_dict(position.to_dict()) == position


def test_pack_actor_skips_exactly_the_first_blocks_across_batches():
    docs = [list(range(i * 100, i * 100 + 37 + i)) for i in range(12)]
    expected = pack_documents(docs, 16, eos_id=1, flush=False)
    batches = [
        pa.table({"tokens": pa.array(docs[i : i + 5], type=pa.list_(pa.int32()))}) for i in range(0, 12, 5)
    ]
    for skip in (0, 3, 7, len(expected)):
        actor = PackBlocks(seq_len=16, eos_id=1, skip_blocks=skip)
        got = np.concatenate([actor(batch)["input_ids"] for batch in batches])
        assert got.shape == (len(expected) - skip, 16)
        assert [row.tolist() for row in got] == [b.input_ids.tolist() for b in expected[skip:]]


def test_metrics_console_line_and_loss_curve(tmp_path):
    line = StepMetrics(3, 2.5, 1e-3, 1234.0, 0.12, 0.01, 0.3, 3072, 0, eval_loss=2.7).console_line(10)
    assert "step 3/10" in line and "loss 2.5000" in line and "eval 2.7000" in line and "mfu 12.00%" in line
    jsonl = tmp_path / "metrics.jsonl"
    import json

    rows = [StepMetrics(s, 5 - s * 0.1, 1e-3, 1.0, 0.0, 0.0, 0.1, s, 0, None).__dict__ for s in range(1, 6)]
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert [row["step"] for row in read_metrics(jsonl)] == [1, 2, 3, 4, 5]
    png = plot_loss_curve(jsonl, tmp_path / "loss.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert not math.isnan(rows[-1]["loss"])


class _Context:
    def __init__(self, local_world_size: int):
        self.local_world_size = local_world_size

    def get_local_world_size(self) -> int:
        return self.local_world_size


@pytest.mark.parametrize(("node_cpus", "local_workers", "setting", "threads"), [
    (8, 2, 0, 4),  # the node's cores shared by the run's workers on it
    (2, 1, 0, 2),  # one worker alone on a 2-core machine: both cores, not Ray's one thread
    (2, 4, 0, 1),  # never below one
    (8, 2, 3, 3),  # train.cpu_threads wins
])
def test_cpu_worker_threads(monkeypatch, node_cpus, local_workers, setting, threads):
    import ray

    from training.loop import cpu_threads

    class Runtime:
        def get_node_id(self):
            return "here"

    monkeypatch.setattr(ray, "get_runtime_context", Runtime)
    monkeypatch.setattr(ray, "nodes", lambda: [{"NodeID": "elsewhere", "Resources": {"CPU": 64.0}},
                                               {"NodeID": "here", "Resources": {"CPU": float(node_cpus)}}])
    assert cpu_threads(TrainSettings(cpu_threads=setting), _Context(local_workers)) == threads


def test_cpu_peak_is_the_fastest_trial_so_a_busy_moment_does_not_halve_it(monkeypatch):
    import training.metrics as metrics

    # Trial timings as a busy machine gives them: the first trials were preempted.
    ticks = iter([0.0, 0.5, 1.0, 1.5, 2.0, 2.1, 3.0, 3.1])
    monkeypatch.setattr(metrics.time, "perf_counter", lambda: next(ticks))
    peak = metrics.cpu_peak_tflops(size=8, trials=4, per_trial=1)
    assert peak == pytest.approx(2.0 * 8**3 / 0.1 / 1e12)
