"""Training throughput of the same model three ways, printed as JSON.

1. ``bare``: a plain PyTorch loop on in-memory random token ids (bf16 autocast on GPU).
2. ``deepspeed``: DeepSpeed with the ZeRO template codemill trains with, one process, same data.
3. ``ray``: the full path, ``codemill``'s ``run_training``: Ray Train + Ray Data from a Delta
   table + DeepSpeed, one worker so it compares with the two above (needs deltalake and ray).
   ``tiny`` and ``smollm2`` are loaded by name; other shapes are built from config like the
   peers', saved with a tokenizer trained on the benchmark's texts and trained from that folder.
4. ``idle_ray`` (not by default): bare DeepSpeed again beside idle Ray actors, to tell how much
   of the full path's gap is Ray's processes being there at all.

Progress goes to stderr; stdout carries the JSON object alone.

Each figure is tokens/s over the steps after ``--warmup`` (so compilation and allocator
warm-up are excluded), with MFU against the device's peak (vendor bf16 table on GPU, a
matmul probe on CPU); the full path adds its data-wait fraction.

    .venv/bin/python benchmarks/train_throughput.py                       # CPU, tiny model
    .venv/bin/python benchmarks/train_throughput.py --model-config smollm2  # CPU, the demo's model
    python benchmarks/train_throughput.py --model-config qwen2-1.5b   # GPU: all three, 1.5B shapes

``ratio``: the full path's tokens/s ÷ bare DeepSpeed's at the first ZeRO stage (0 when the
full path timed no step; goal ≥ 0.95 on CPU, data wait < 1%; ≥ 0.97 on GPU). ``mfu`` puts the
full path's MFU beside the plain loop's (GPU goal: at least the plain loop's). A shared 2-core VM
drifts by ±7% within minutes, more than the overhead being judged, so DeepSpeed and the full path
alternate for ``--rounds`` rounds (3 on CPU, 1 on GPU) and DeepSpeed runs once more at the end:
each full path is compared with the mean of the DeepSpeed runs just before and after it, and
``ratio`` is the median of those rounds (all in ``ratio_per_round``; ``--no-bracket`` drops the
last DeepSpeed run, so the last round is compared with the run before it only).

Every mode runs with the allocator codemill gives its CPU training workers
(``train.tune_allocator``, training/allocator.py: Ray's jemalloc preloaded, glibc's settings
where it cannot load): the benchmark re-executes itself once under the same environment before
its peers allocate, so the ratio measures the path's overhead and not the allocator.
``--default-allocator`` measures all modes with glibc's defaults instead.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.allocator import (  # noqa: E402
    allocator_env,
    allocator_in_use,
    release_free_memory,
    tune_this_process,
)
from training.metrics import cpu_peak_tflops, flops_per_token, gpu_peak_tflops, mfu  # noqa: E402

_REEXECUTED = "CODEMILL_BENCH_ALLOCATOR_SET"  # re-execute once only, even if the preload fails to load

# Qwen2 shapes (public config.json values of Qwen2.5-0.5B / -1.5B), built from config, random init.
MODEL_CONFIGS = {
    "tiny": dict(
        model_type="llama",
        vocab_size=2048,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    ),
    # SmolLM2-135M's public config.json shapes: what `codemill train --model smollm2` (the demo)
    # trains, so the full path loads the real weights and the two peers the same shapes.
    "smollm2": dict(
        model_type="llama",
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        tie_word_embeddings=True,
        rope_theta=100000.0,
    ),
    "qwen2-0.5b": dict(
        model_type="qwen2",
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        rope_theta=1_000_000.0,
    ),
    "qwen2-1.5b": dict(
        model_type="qwen2",
        vocab_size=151936,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        rope_theta=1_000_000.0,
    ),
}


LOADED_BY_NAME = ("tiny", "smollm2")  # what codemill loads offline by name; other shapes go through a folder


def build_model(name: str, seq_len: int, device, dtype=None):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if name in MODEL_CONFIGS:
        values = dict(MODEL_CONFIGS[name])
    else:
        values = json.loads(Path(name).read_text())
    model_type = values.pop("model_type")
    config = AutoConfig.for_model(model_type, max_position_embeddings=max(seq_len, 2048), **values)
    config.use_cache = False
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    if dtype is not None:
        model = model.to(dtype)
    return model.to(device)


def synthetic_batches(vocab: int, micro_batch: int, seq_len: int, count: int, device):
    import torch

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (count, micro_batch, seq_len), generator=generator)
    return [batch.to(device) for batch in ids]


@functools.cache
def peak_for(device) -> float:
    """The device's peak, probed once per run so every mode's MFU divides by the same figure.

    On CPU a probe after the full path's Ray driver had run read half the first one while
    DeepSpeed trained at the same speed (MFU 1.09 beside 0.61 in one run).
    """
    import torch

    if device.type == "cuda":
        return gpu_peak_tflops(torch.cuda.get_device_name(device)) or 989.0
    return cpu_peak_tflops()


def summarise(
    mode: str, step_times: list[float], tokens_per_step: int, flops_token: float, peak: float, **extra
):
    median = statistics.median(step_times)
    tokens_per_s = tokens_per_step / median
    return {
        "mode": mode,
        "tokens_per_s": round(tokens_per_s, 1),
        "median_step_s": round(median, 4),
        "steps_timed": len(step_times),
        "mfu": round(mfu(tokens_per_s, flops_token, peak), 4),
        **extra,
    }


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_bare(args, device) -> dict:
    import torch

    model = build_model(args.model_config, args.seq_len, device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)  # as codemill train
    batches = synthetic_batches(model.config.vocab_size, args.micro_batch, args.seq_len, 4, device)
    times = []
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )
    for step in range(args.warmup + args.steps):
        batch = batches[step % len(batches)]
        _sync(device)
        start = time.perf_counter()
        with autocast:
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    n_params = sum(p.numel() for p in model.parameters())
    flops = flops_per_token(n_params, model.config.num_hidden_layers, model.config.hidden_size, args.seq_len)
    extra = {"params": n_params}
    if device.type == "cuda":
        extra["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 1)
        torch.cuda.reset_peak_memory_stats(device)
    del model, optimizer
    release_memory_kept_by_the_peer()
    return summarise("bare", times, args.micro_batch * args.seq_len, flops, peak_for(device), **extra)


def run_deepspeed(args, device, stage: int) -> dict:
    os.environ.setdefault("DS_ACCELERATOR", "cuda" if device.type == "cuda" else "cpu")
    # Same op cache as codemill train: DeepSpeed's shm_comm op is compiled once, not per run.
    from training.settings import TrainSettings

    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(TrainSettings().extensions_path()))
    for key, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "29533",
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
    }.items():
        os.environ.setdefault(key, value)
    import deepspeed
    import torch

    from training.loop import compile_wanted, deepspeed_config

    settings = TrainSettings(zero_stage=stage, micro_batch_size=args.micro_batch, grad_accum=1, grad_clip=1.0,
                             compile_model=args.compile)  # on/off read as booleans
    on_gpu = device.type == "cuda"
    model = build_model(args.model_config, args.seq_len, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    engine, *_ = deepspeed.initialize(
        model=model, optimizer=optimizer, config=deepspeed_config(settings, on_gpu)
    )
    compiled = compile_wanted(settings, on_gpu)
    if compiled:  # as the full path's workers do (train.compile_model), so the two compare
        engine.compile()
    batches = synthetic_batches(model.config.vocab_size, args.micro_batch, args.seq_len, 4, device)
    times = []
    for step in range(args.warmup + args.steps):
        batch = batches[step % len(batches)]
        _sync(device)
        start = time.perf_counter()
        loss = engine(input_ids=batch, labels=batch).loss
        engine.backward(loss)
        engine.step()
        _sync(device)
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    n_params = sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel() for p in model.parameters())
    flops = flops_per_token(n_params, model.config.num_hidden_layers, model.config.hidden_size, args.seq_len)
    extra = {"zero_stage": stage, "compiled": compiled}
    if on_gpu:
        extra["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 1)
        torch.cuda.reset_peak_memory_stats(device)
    engine.destroy()  # its hooks and optimizer hold the model: without it `del` frees nothing
    del engine, model, optimizer
    if on_gpu:
        torch.cuda.empty_cache()
    release_memory_kept_by_the_peer()
    return summarise(
        f"deepspeed_zero{stage}", times, args.micro_batch * args.seq_len, flops, peak_for(device), **extra
    )


def run_ray(args, device, stage: int) -> dict:
    """The full path on a throwaway lake: synthetic code documents in a Delta table."""
    from deltalake import write_deltalake

    from data_platform.ops.records import rows_to_arrow
    from data_platform.publication import GOLD_TABLE
    from serving.config import load_config
    from training.loop import compile_wanted
    from training.metrics import read_metrics
    from training.trainer import run_training

    lake = Path(tempfile.mkdtemp(prefix="codemill-bench-lake-"))
    source = Path(__file__).resolve().parent.parent / "training"
    sources = [path.read_text() for path in sorted(source.glob("*.py"))]
    texts = sources * 20
    model_spec = full_path_model(args, sources, lake / "base-model")
    rows = [
        {
            "doc_id": f"doc{i}",
            "repo_id": f"repo{i % 7}",
            "repo_url": "bench",
            "commit_sha": "0",
            "path": f"f{i}.py",
            "language": "python",
            "text": text,
            "license_spdx": None,
            "license_class": "permissive",
            "split": "train",
            "token_count": 0,
            "size_bytes": len(text),
            "exact_dup_key": str(i),
            "run_id": "bench",
        }
        for i, text in enumerate(texts)
    ]
    on_gpu = device.type == "cuda"
    overrides = [
        f"lake.root={lake}",
        f"train.model={model_spec}",
        "train.workers=1",
        f"train.zero_stage={stage}",
        f"train.seq_len={args.seq_len}",
        f"train.micro_batch_size={args.micro_batch}",
        f"train.max_steps={args.warmup + args.steps}",
        "train.eval_every=0",
        f"train.checkpoint_every={args.warmup + args.steps}",
        "train.export=false",
        f"train.use_gpu={str(on_gpu).lower()}",
        "train.fim_rate=0.5",
        "train.cpus_per_worker=1",
        f"train.tune_allocator={str(args.tune_allocator).lower()}",
        f"train.compile_model={args.compile}",
    ]
    config = load_config(overrides=overrides, environ={})
    write_deltalake(str(config.lake.table_path(GOLD_TABLE)), rows_to_arrow(GOLD_TABLE, rows))
    try:
        result = run_training(config, run_name="bench", allow_unvalidated=True)
        metrics_file = result.run_dir / "codemill" / "metrics.jsonl"
        metrics = [row for row in read_metrics(metrics_file) if row["step"] > args.warmup]
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    median_tps = statistics.median(row["tokens_per_s"] for row in metrics)
    return {
        "mode": f"ray_data_train_zero{stage}",
        "tokens_per_s": round(median_tps, 1),
        "median_step_s": round(statistics.median(row["step_time_s"] for row in metrics), 4),
        "steps_timed": len(metrics),
        "mfu": round(statistics.median(row["mfu"] for row in metrics), 4),
        "data_wait_fraction": round(statistics.median(row["data_wait_fraction"] for row in metrics), 4),
        "compiled": compile_wanted(config.train, on_gpu),
    }


def full_path_model(args, texts: list[str], folder: Path) -> str:
    """``train.model`` for the full path: ``tiny``/``smollm2`` by name; other shapes (the Qwen2
    ones, a JSON config) built from config as the peers build them, with a tokenizer trained on
    the benchmark's texts, saved in bf16 as a hub model would be, and loaded from that folder."""
    if args.model_config in LOADED_BY_NAME:
        return args.model_config
    import torch

    from training.model import ensure_special_tokens, save_model_dir, train_tiny_tokenizer

    model = build_model(args.model_config, args.seq_len, "cpu", dtype=torch.bfloat16)
    # The model keeps its vocabulary (same FLOPs as the peers); the tokenizer uses its first ids.
    model, tokenizer = ensure_special_tokens(model, train_tiny_tokenizer(texts))
    save_model_dir(model, tokenizer, folder)
    del model
    return str(folder)


@contextlib.contextmanager
def progress_to_stderr():
    """Send everything the modes print to stderr (file descriptor 1 itself: DeepSpeed's op builder
    and Ray's workers write there directly), so stdout carries the JSON object alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_beside_idle_ray(args, device, stage: int) -> dict:
    """Bare DeepSpeed again, with Ray up and ``--idle-actors`` actors doing nothing.

    Not a peer of the judged ratio: it tells how much of the full path's gap is Ray's presence
    alone. Every Ray worker process wakes every 10 ms to check for signals (a fixed interval in
    Ray's core worker), and a one-worker training run keeps ~8 such helper actors (controller,
    synchronisation, placement-group cleaner, dataset manager, split coordinator, Ray Data's
    stats, location and autoscaling actors) beside its worker.
    """
    import ray

    @ray.remote(num_cpus=0)
    class Idle:
        def ready(self) -> bool:
            return True

    ray.init(object_store_memory=1 << 30, include_dashboard=False, log_to_driver=False)
    try:
        actors = [Idle.remote() for _ in range(args.idle_actors)]
        ray.get([actor.ready.remote() for actor in actors])
        result = run_deepspeed(args, device, stage)
    finally:
        ray.shutdown()
    return {**result, "mode": f"deepspeed_zero{stage}_beside_idle_ray", "idle_actors": args.idle_actors}


def release_memory_kept_by_the_peer() -> None:
    """Give back what an in-process peer kept, so the next mode (the full path's worker) has room.

    The training allocator settings keep a process at its peak: after bare PyTorch and DeepSpeed
    this process held 9-16 GB, and Ray's memory monitor killed the full path's 4.6 GB worker.
    """
    gc.collect()
    release_free_memory()


def same_allocator_as_workers() -> str:
    """Give the in-process peers the allocator codemill starts CPU train workers with.

    jemalloc must be preloaded before the process starts, so the benchmark re-executes itself
    once with the workers' environment; glibc's settings are also applied in place (they are
    what a worker keeps if the preload cannot load). Returns what the peers compute with.
    """
    env = allocator_env(True)
    if "LD_PRELOAD" in env and allocator_in_use() != "jemalloc" and not os.environ.get(_REEXECUTED):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **env, _REEXECUTED: "1"})
    glibc_tuned = tune_this_process()
    if allocator_in_use() == "jemalloc":
        return "jemalloc"
    return "glibc-tuned" if glibc_tuned else "default"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model-config", default="tiny", help=f"{', '.join(MODEL_CONFIGS)} or a JSON config file"
    )
    parser.add_argument("--modes", default="bare,deepspeed,ray",
                        help="comma-separated: bare, deepspeed, ray (the full path), idle_ray "
                             "(bare DeepSpeed beside --idle-actors idle Ray actors; not run by default)")
    parser.add_argument("--idle-actors", type=int, default=8,
                        help="idle Ray actors beside DeepSpeed in the idle_ray mode (default: as many helper "
                             "actors as a one-worker full path keeps)")
    parser.add_argument("--zero-stages", default="2", help="comma-separated ZeRO stages for deepspeed/ray")
    parser.add_argument("--seq-len", type=int, default=None, help="default 2048 on GPU, 256 on CPU")
    parser.add_argument("--micro-batch", type=int, default=None, help="default 8 on GPU, 4 on CPU")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--rounds", type=int, default=None,
                        help="DeepSpeed/full-path pairs; each full path is judged against the DeepSpeed runs "
                             "either side of it and ratio is the rounds' median (default 3 on CPU, 1 on GPU)")
    parser.add_argument("--no-bracket", dest="bracket", action="store_false",
                        help="no DeepSpeed run after the last full path (default: one, so every round is bracketed)")
    parser.add_argument("--default-allocator", dest="tune_allocator", action="store_false",
                        help="every mode with glibc's default allocator (default: codemill's CPU training settings)")
    parser.add_argument("--compile", default="auto", choices=["auto", "on", "off"],
                        help="torch.compile in the DeepSpeed peer and the full path alike (train.compile_model; "
                             "auto: on GPU up to ZeRO-2); the bare loop stays eager, the plain reference")
    parser.add_argument("--write-rates", action="store_true",
                        help="GPU only: store the DeepSpeed rate (tokens per GPU-second) in benchmarks/rates.json")
    args = parser.parse_args()

    import torch

    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda:0" if use_cuda else "cpu")
    args.seq_len = args.seq_len or (2048 if use_cuda else 256)
    args.micro_batch = args.micro_batch or (8 if use_cuda else 4)
    args.rounds = max(1, args.rounds or (1 if use_cuda else 3))
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    stages = [int(s) for s in args.zero_stages.split(",")]
    allocator = same_allocator_as_workers() if args.tune_allocator and not use_cuda else "default"
    with progress_to_stderr():
        results = run_modes(args, device, stages)
        if torch.distributed.is_initialized():  # the DeepSpeed peers' group; NCCL warns at exit otherwise
            torch.distributed.destroy_process_group()
    compare(results)
    summary = {
        "ratio": judged_ratio(results),
        "ratio_per_round": round_ratios(results),
        "device": torch.cuda.get_device_name(device) if use_cuda else "cpu",
        "model_config": args.model_config,
        "seq_len": args.seq_len,
        "micro_batch": args.micro_batch,
        "allocator": allocator,
        "torch": torch.__version__,
        "results": results,
    }
    if mfu_pair := mfu_beside_bare_loop(results):
        summary["mfu"] = mfu_pair
    if args.write_rates:
        summary["rates_written"] = write_train_rate(summary, use_cuda)
    print(json.dumps(summary, indent=2))


def run_modes(args, device, stages: list[int]) -> list[dict]:
    """The modes in order; DeepSpeed and the full path alternate for ``--rounds`` rounds, and DeepSpeed
    runs once more after the last full path (unless ``--no-bracket``)."""
    peak_for(device)  # before any mode: the figure every mode's MFU uses
    results = ModeResults()
    modes = args.modes.split(",")
    if "bare" in modes:
        results.add(run_bare(args, device))
    rounds = args.rounds if "ray" in modes else 1
    for round_index in range(rounds):
        if "deepspeed" in modes:
            results.add(*({**run_deepspeed(args, device, stage), "round": round_index} for stage in stages))
        if "ray" in modes:
            results.add(*({**run_ray(args, device, stage), "round": round_index} for stage in stages))
            import ray

            ray.shutdown()  # the peer runs again on a machine as quiet as its first run had
    if "ray" in modes and "deepspeed" in modes and args.bracket:
        results.add(*({**run_deepspeed(args, device, stage), "round": rounds, "measured": "after the full path"}
                      for stage in stages))
    if "idle_ray" in modes:
        results.add(*(run_beside_idle_ray(args, device, stage) for stage in stages))
    return results


class ModeResults(list):
    """The modes' results, each also printed as one line as it is measured: a long run that is
    cut short (a GPU lease, a killed worker) still leaves the modes it finished."""

    def add(self, *results: dict) -> None:
        for result in results:
            self.append(result)
            print("measured:", json.dumps(result), flush=True)  # stderr while the modes run


def compare(results: list[dict]) -> None:
    """Add ``vs_bare`` to every result and ``vs_deepspeed`` to each full path's: against the mean of
    the DeepSpeed runs either side of it (same stage, its round and the next)."""
    bare = next((r["tokens_per_s"] for r in results if r["mode"] == "bare"), None)
    for result in results:
        if "tokens_per_s" not in result:
            continue
        if bare:
            result["vs_bare"] = round(result["tokens_per_s"] / bare, 3)
        if result["mode"].startswith("ray_data_train"):
            peer = result["mode"].replace("ray_data_train", "deepspeed")
            runs = [other["tokens_per_s"] for other in results
                    if other["mode"] == peer and "tokens_per_s" in other
                    and other.get("round", 0) - result.get("round", 0) in (0, 1)]
            if runs:
                peer_tokens_per_s = statistics.mean(runs)
                result["deepspeed_tokens_per_s"] = round(peer_tokens_per_s, 1)
                result["vs_deepspeed"] = round(result["tokens_per_s"] / peer_tokens_per_s, 3)


def mfu_beside_bare_loop(results: list[dict]) -> dict | None:
    """The full path's MFU beside the plain loop's, same model and run (the GPU goal: at least the
    loop's); None unless both ran. Both at the loop's FLOPs per token and peak (same shapes and
    sequence length): the worker's own figure divides by a peak it probes itself on CPU."""
    bare = next((r for r in results if r["mode"] == "bare" and r.get("tokens_per_s")), None)
    full = [r for r in judged_full_paths(results) if r.get("tokens_per_s")]
    if not bare or not full:
        return None
    full_tokens_per_s = statistics.median(r["tokens_per_s"] for r in full)
    speedup = full_tokens_per_s / bare["tokens_per_s"]
    return {"full_path": round(bare["mfu"] * speedup, 4), "bare_loop": bare["mfu"],
            "full_path_vs_bare_loop": round(speedup, 3)}


def judged_full_paths(results: list[dict]) -> list[dict]:
    """The full path's results at the first ZeRO stage measured, one per round: what the summary judges."""
    full = [r for r in results if r["mode"].startswith("ray_data_train")]
    return [r for r in full if r["mode"] == full[0]["mode"]]


def round_ratios(results: list[dict]) -> list[float]:
    """Each round's full path ÷ bare DeepSpeed (0 for a round whose full path timed no step)."""
    return [r.get("vs_deepspeed", 0.0) if r.get("steps_timed") else 0.0 for r in judged_full_paths(results)]


def judged_ratio(results: list[dict]) -> float:
    """The median of the rounds' ratios; 0 when no full path ran."""
    ratios = round_ratios(results)
    return round(statistics.median(ratios), 3) if ratios else 0.0


def write_train_rate(summary: dict, use_cuda: bool) -> str:
    """The fastest DeepSpeed result as ``codemill plan``'s training rate (one process = one GPU)."""
    import datetime as dt
    import platform
    import shlex

    from data_platform.capacity import RATES_PATH, update_rates

    if not use_cuda:
        return "not written: --write-rates stores a per-GPU rate and this run was on CPU"
    measured = [r for r in summary["results"] if r["mode"].startswith("deepspeed") and "tokens_per_s" in r]
    if not measured:
        return "not written: no DeepSpeed result (include deepspeed in --modes)"
    best = max(measured, key=lambda r: r["tokens_per_s"])
    entry = {
        "tokens_per_gpu_second": best["tokens_per_s"],
        "model": f"{summary['model_config']} shape, seq {summary['seq_len']}, micro-batch {summary['micro_batch']}, "
                 f"{best['mode']}, bf16",
        "date": dt.date.today().isoformat(),
        "machine": f"{summary['device']}, torch {summary['torch']}, Python {platform.python_version()}",
        "command": "python benchmarks/train_throughput.py " + shlex.join(sys.argv[1:]),
    }
    return str(update_rates({"train": entry}, RATES_PATH))


if __name__ == "__main__":
    main()
