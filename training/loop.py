"""What every Ray Train worker runs: a DeepSpeed ZeRO training loop over its data shard.

One function, ``train_loop_per_worker``, reads top to bottom like a recipe: environment,
model, DeepSpeed engine, restore from the run's last checkpoint, then steps until
``max_steps`` with periodic eval and checkpoints. Everything it needs arrives in one
JSON-able ``job`` dict built by ``training.trainer``.

Checkpoints hold each rank's DeepSpeed shard plus ``data_state.json`` (step and data
position), because a DeepSpeed checkpoint alone does not know where the data stream was.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from data_platform.ops.logs import progress_print

TEMPLATES_DIR = Path(__file__).resolve().parent
CHECKPOINT_TAG = "zero"
DATA_STATE = "data_state.json"
LINEAGE_FILE = "codemill_lineage.json"


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warmup to 1, then cosine down to ``min_ratio`` at ``total``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def deepspeed_config(settings: dict[str, Any], on_gpu: bool) -> dict[str, Any]:
    """Fill the ZeRO template of the configured stage with this run's settings."""
    template = json.loads((TEMPLATES_DIR / f"zero{settings['zero_stage']}.json").read_text())
    template["train_micro_batch_size_per_gpu"] = settings["micro_batch_size"]
    template["gradient_accumulation_steps"] = settings["grad_accum"]
    template["gradient_clipping"] = settings["grad_clip"]
    template["bf16"] = {"enabled": on_gpu}
    zero = template["zero_optimization"]
    for key, enabled in (
        ("offload_optimizer", settings["offload_optimizer"]),
        ("offload_param", settings["offload_params"]),
    ):
        if key not in zero:
            continue
        if enabled:
            zero[key]["device"] = "cpu"
        else:
            del zero[key]
    return template


def _prepare_environment(settings: dict[str, Any], on_gpu: bool) -> None:
    # DeepSpeed picks its accelerator at import time; on CPU it must be told explicitly.
    os.environ.setdefault("DS_ACCELERATOR", "cuda" if on_gpu else "cpu")
    # The shm_comm op compiles once (~90 s); a persistent cache makes later runs skip it.
    extensions = Path(os.path.expandvars(settings["torch_extensions_dir"])).expanduser()
    extensions.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(extensions))


def _optimizer(model, settings: dict[str, Any], on_gpu: bool):
    import torch

    # No weight decay on norms and biases (one-dimensional tensors), as usual for LMs.
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": settings["weight_decay"]},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=settings["lr"], betas=(0.9, 0.95), fused=on_gpu)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


def _all_reduce_mean(values: list[float], device) -> list[float]:
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(tensor)
        tensor /= dist.get_world_size()
    return tensor.tolist()


def _evaluate(engine, shard, micro_batch: int, device) -> float | None:
    """Mean loss over this rank's valid shard, averaged over ranks (every rank must call it)."""
    import torch

    engine.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in shard.iter_torch_batches(
            batch_size=micro_batch, drop_last=True, dtypes=torch.long, device=device
        ):
            total += float(engine(input_ids=batch["input_ids"], labels=batch["labels"]).loss)
            count += 1
    engine.train()
    summed_total, summed_count = _all_reduce_mean([total, float(count)], device)
    return summed_total / summed_count if summed_count else None


def train_loop_per_worker(job: dict[str, Any]) -> None:
    settings = job["settings"]
    on_gpu = settings["use_gpu"]
    _prepare_environment(settings, on_gpu)

    import deepspeed
    import ray.train
    import torch
    from transformers import AutoModelForCausalLM

    from training.data import DataPosition
    from training.metrics import (
        MetricsSink,
        StepClock,
        StepMetrics,
        block_fingerprints,
        cpu_peak_tflops,
        flops_per_token,
        gpu_peak_tflops,
    )
    from training.metrics import mfu as compute_mfu

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    artifacts = Path(job["artifacts_dir"])
    device = torch.device(f"cuda:{context.get_local_rank()}") if on_gpu else torch.device("cpu")
    if on_gpu:
        torch.cuda.set_device(device)
    # Lets tests and operators find (and kill) a worker; also shows which node it ran on.
    workers_dir = artifacts / "workers"
    workers_dir.mkdir(parents=True, exist_ok=True)
    _write_json(
        workers_dir / f"rank{rank}.json",
        {"pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id(), "started_at": time.time()},
    )

    torch.manual_seed(settings["seed"])
    model = AutoModelForCausalLM.from_pretrained(job["base_model_dir"], dtype=torch.float32)
    model.config.use_cache = False
    if settings["activation_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    n_params = sum(p.numel() for p in model.parameters())
    flops_token = flops_per_token(
        n_params, model.config.num_hidden_layers, model.config.hidden_size, settings["seq_len"]
    )
    optimizer = _optimizer(model, settings, on_gpu)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_cosine(
            step, settings["warmup_steps"], settings["max_steps"], settings["min_lr_ratio"]
        ),
    )
    engine, optimizer, _, scheduler = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=deepspeed_config(settings, on_gpu)
    )

    # Restore: the latest checkpoint of this run name (after a crash or a rerun).
    step, position = 0, DataPosition()
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            engine.load_checkpoint(folder, tag=CHECKPOINT_TAG, load_module_strict=False)
            state = json.loads((Path(folder) / DATA_STATE).read_text())
        step, position = int(state["step"]), DataPosition.from_dict(state["position"])
        if rank == 0:
            progress_print(f"resumed at step {step}, epoch {position.epoch}, block {position.blocks_in_epoch}")

    peak = settings["peak_tflops"] or (
        gpu_peak_tflops(torch.cuda.get_device_name(device)) if on_gpu else None
    )
    peak = peak or cpu_peak_tflops()
    sink = MetricsSink(artifacts, settings["max_steps"], settings["log_every"]) if rank == 0 else None
    micro, accum, seq_len = settings["micro_batch_size"], settings["grad_accum"], settings["seq_len"]
    global_tokens_per_step = micro * accum * world * seq_len
    resume_skip = job["resume_skip_blocks"]

    def save(metrics: dict[str, Any]) -> None:
        folder = Path(tempfile.mkdtemp(prefix=f"ckpt-r{rank}-"))
        engine.save_checkpoint(str(folder), tag=CHECKPOINT_TAG)
        state = {"step": step, "position": position.to_dict()}
        if rank == 0:
            _write_json(folder / DATA_STATE, state)
            _write_json(folder / LINEAGE_FILE, job["lineage"])
        ray.train.report(
            metrics,
            checkpoint=ray.train.Checkpoint.from_directory(str(folder)),
            checkpoint_dir_name=f"step_{step:06d}",
        )
        shutil.rmtree(folder, ignore_errors=True)
        if rank == 0:  # the driver reads this to build the next run's resume dataset
            _write_json(artifacts / DATA_STATE, state)

    last_loss = math.nan
    losses, micro_in_step, fingerprints = [], 0, []
    while step < settings["max_steps"]:
        # The epoch the run stopped in continues from the driver's skip, plus what this
        # worker must drop itself if the checkpoint is newer than that skip.
        resuming_epoch = (
            position.epoch == job["resume_epoch"] and resume_skip > 0 and "train_resume" in job["datasets"]
        )
        shard = ray.train.get_dataset_shard("train_resume" if resuming_epoch else "train")
        local_skip = (position.blocks_in_epoch - (resume_skip if resuming_epoch else 0)) // world
        clock, got_any = StepClock(), False
        batches = iter(
            shard.iter_torch_batches(batch_size=micro, drop_last=True, dtypes=torch.long, device=device)
        )
        for batch in clock.timed(batches):
            got_any = True
            if local_skip > 0:
                local_skip -= micro
                clock.lap()
                continue
            loss = engine(input_ids=batch["input_ids"], labels=batch["labels"]).loss
            engine.backward(loss)
            engine.step()
            losses.append(loss.detach().item())
            if rank == 0:
                fingerprints.extend(block_fingerprints(batch["input_ids"]))
            micro_in_step += 1
            if micro_in_step < accum:
                continue
            step += 1
            position.blocks_in_epoch += micro * accum * world
            position.tokens_seen += global_tokens_per_step
            (last_loss,) = _all_reduce_mean([sum(losses) / len(losses)], device)
            losses, micro_in_step = [], 0
            step_time, wait = clock.lap()
            eval_loss = None
            if settings["eval_every"] and (
                step % settings["eval_every"] == 0 or step == settings["max_steps"]
            ):
                if "valid" in job["datasets"]:
                    eval_loss = _evaluate(engine, ray.train.get_dataset_shard("valid"), micro, device)
            tokens_per_s = global_tokens_per_step / step_time
            metrics = StepMetrics(
                step=step,
                loss=last_loss,
                lr=scheduler.get_last_lr()[0],
                tokens_per_s=tokens_per_s,
                mfu=compute_mfu(tokens_per_s, flops_token, peak * world),
                data_wait_fraction=wait / step_time if step_time else 0.0,
                step_time_s=step_time,
                tokens_seen=position.tokens_seen,
                epoch=position.epoch,
                eval_loss=eval_loss,
                block_fingerprints=fingerprints if rank == 0 else None,
            )
            fingerprints = []
            if sink:
                sink.log(metrics)
            if step % settings["checkpoint_every"] == 0 or step == settings["max_steps"]:
                save({"step": step, "loss": last_loss, "eval_loss": eval_loss})
            clock.lap()  # eval and checkpoint time is not training throughput
            if step >= settings["max_steps"]:
                break
        else:
            # A resumed epoch may have nothing left (the checkpoint fell on its last step): go on
            # with the next one. A fresh epoch without a single micro-batch is an empty split.
            if not got_any and not resuming_epoch:
                raise RuntimeError(
                    "the train split gives no full micro-batch: add data or lower seq_len/micro_batch_size"
                )
            position.epoch += 1
            position.blocks_in_epoch = 0
    if sink:
        sink.close()
