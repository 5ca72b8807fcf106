"""What every Ray Train worker runs: a DeepSpeed ZeRO training loop over its data shard.

``train_loop_per_worker`` reads top to bottom like a recipe and fits a screen; each piece is
named: ``join_run`` (rank, device), ``build_engine`` (model, optimizer, DeepSpeed),
``restore`` (the run's last checkpoint), ``epoch_batches`` (data, resumable),
``train_micro_batch`` (the step), ``step_metrics`` (eval, throughput, MFU) and
``save_checkpoint``. Everything it needs arrives in one
JSON-able ``job`` dict built by ``training.trainer``.

Checkpoints hold each rank's DeepSpeed shard plus ``data_state.json`` (step and data
position), because a DeepSpeed checkpoint alone does not know where the data stream was.
A worker writes its own files in its node's copy of the run folder and publishes them through
``job["run"]`` (``training.run_folder``): a no-op on a local lake, an upload on object storage.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_platform.ops.logs import progress_print
from training.allocator import ENV_KEYS, allocator_in_use
from training.settings import TrainSettings

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


def deepspeed_config(settings: TrainSettings, on_gpu: bool) -> dict[str, Any]:
    """Fill the ZeRO template of the configured stage with this run's settings."""
    template = json.loads((TEMPLATES_DIR / f"zero{settings.zero_stage}.json").read_text())
    template["train_micro_batch_size_per_gpu"] = settings.micro_batch_size
    template["gradient_accumulation_steps"] = settings.grad_accum
    template["gradient_clipping"] = settings.grad_clip
    template["bf16"] = {"enabled": on_gpu}
    zero = template["zero_optimization"]
    for key, enabled in (
        ("offload_optimizer", settings.offload_optimizer),
        ("offload_param", settings.offload_params),
    ):
        if key not in zero:
            continue
        if enabled:
            zero[key]["device"] = "cpu"
        else:
            del zero[key]
    return template


def _prepare_environment(settings: TrainSettings, on_gpu: bool) -> None:
    # DeepSpeed picks its accelerator at import time; on CPU it must be told explicitly.
    os.environ.setdefault("DS_ACCELERATOR", "cuda" if on_gpu else "cpu")
    # The shm_comm op compiles once (~90 s); a persistent cache makes later runs skip it.
    extensions = settings.extensions_path()
    extensions.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(extensions))


def _optimizer(model, settings: TrainSettings):
    import torch

    # No weight decay on norms and biases (one-dimensional tensors), as usual for LMs.
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # torch's fused AdamW has CPU kernels too (torch >= 2.4): on CPU it halves the optimizer
    # step of the default for-loop one (SmolLM2-135M under ZeRO-2 on one thread: 1.7 s -> 0.85 s).
    return torch.optim.AdamW(groups, lr=settings.lr, betas=(0.9, 0.95), fused=True)


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


def _evaluate(engine, shard: dict[str, Any], micro_batch: int, device) -> float | None:
    """Mean loss over this rank's eval blocks, averaged over ranks (every rank must call it)."""
    import torch

    engine.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(shard["input_ids"]) - micro_batch + 1, micro_batch):
            batch = {key: torch.from_numpy(shard[key][start : start + micro_batch]).to(device)
                     for key in ("input_ids", "labels")}
            total += float(engine(input_ids=batch["input_ids"], labels=batch["labels"]).loss)
            count += 1
    engine.train()
    summed_total, summed_count = _all_reduce_mean([total, float(count)], device)
    return summed_total / summed_count if summed_count else None


@dataclass
class Worker:
    """Who this worker is in the run: rank, world size, device, its node's copy of the run's artifacts."""

    rank: int
    world: int
    device: Any
    artifacts: Path
    run: Any  # training.run_folder.RunFolder
    valid: dict[str, Any] | None = None  # this rank's eval blocks (training.valid_set), None: no eval


@dataclass
class Progress:
    """Where training stands: optimizer step, data position, and the micro-batches of this step."""

    step: int
    position: Any  # training.data.DataPosition
    losses: list[float] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)


def join_run(job: dict[str, Any], on_gpu: bool) -> Worker:
    """This worker's place in the run; writes ``workers/rank<N>.json`` (pid, node)."""
    import ray.train
    import torch

    context = ray.train.get_context()
    rank = context.get_world_rank()
    device = torch.device(f"cuda:{context.get_local_rank()}") if on_gpu else torch.device("cpu")
    if on_gpu:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(cpu_threads(job["settings"], context))
    run = job["run"]
    artifacts = run.local_artifacts
    # Lets tests and operators find (and kill) a worker; also shows which node it ran on.
    workers_dir = artifacts / "workers"
    workers_dir.mkdir(parents=True, exist_ok=True)
    _write_json(
        workers_dir / f"rank{rank}.json",
        {"pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id(), "started_at": time.time(),
         "torch_threads": torch.get_num_threads(),
         "allocator": allocator_in_use(),
         "allocator_env": {key: os.environ[key] for key in ENV_KEYS if key in os.environ}},
    )
    run.publish(f"workers/rank{rank}.json")
    if rank == 0:  # metrics continue the run's published history, whichever node rank 0 ran on before
        run.fetch("metrics.jsonl")
    valid = ray.get(job["valid"][rank]) if job.get("valid") else None
    return Worker(rank, context.get_world_size(), device, artifacts, run, valid)


def cpu_threads(settings: TrainSettings, context) -> int:
    """torch threads for a CPU worker: ``train.cpu_threads``, or its share of the node's cores.

    Ray sets OMP_NUM_THREADS to the CPUs a worker reserves, so a worker reserving half a core
    (the local default, leaving room for Ray Data) computes on one thread even when it is
    alone on the machine: a one-worker run trained at 0.3x bare DeepSpeed on 2 cores. The
    node's CPU count comes from Ray, which follows a pod's limit where ``os.cpu_count`` does not.
    """
    import ray

    if settings.cpu_threads:
        return settings.cpu_threads
    node_id = ray.get_runtime_context().get_node_id()
    node_cpus = next((node["Resources"].get("CPU", 1) for node in ray.nodes() if node["NodeID"] == node_id), 1)
    return max(1, int(node_cpus) // max(1, context.get_local_world_size()))


def build_engine(job: dict[str, Any], on_gpu: bool):
    """Model from the run's base folder, AdamW with warmup-cosine, wrapped by DeepSpeed ZeRO.

    Returns ``(engine, scheduler, flops_per_token)``.
    """
    import deepspeed
    import torch
    from transformers import AutoModelForCausalLM

    from training.metrics import flops_per_token

    settings = job["settings"]
    torch.manual_seed(settings.seed)
    base_model = job["run"].fetch_folder("base_model")  # downloaded once per node when the run is remote
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32)
    model.config.use_cache = False
    if settings.activation_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    n_params = sum(p.numel() for p in model.parameters())
    flops_token = flops_per_token(
        n_params, model.config.num_hidden_layers, model.config.hidden_size, settings.seq_len
    )
    optimizer = _optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_cosine(
            step, settings.warmup_steps, settings.max_steps, settings.min_lr_ratio
        ),
    )
    engine, _, _, scheduler = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=deepspeed_config(settings, on_gpu)
    )
    if compile_wanted(settings, on_gpu):
        # DeepSpeed's own entry: torch.compile of the module (names and state dict unchanged, so
        # checkpoints and the export stay as they are) with its NVTX ranges off, which break graphs.
        engine.compile()
    return engine, scheduler, flops_token


def compile_wanted(settings: TrainSettings, on_gpu: bool) -> bool:
    """``train.compile_model``; ``auto`` compiles GPU workers up to ZeRO-2 (Qwen2-1.5B shapes on an
    H200: see docs/decisions/0197) and leaves CPU workers and ZeRO-3 eager."""
    if settings.compile_model == "auto":
        return on_gpu and settings.zero_stage <= 2
    return bool(settings.compile_model)


def restore(engine, worker: Worker) -> Progress:
    """The run's latest checkpoint (after a crash or a rerun of the same name), else step 0."""
    import ray.train

    from training.data import DataPosition

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return Progress(0, DataPosition())
    with checkpoint.as_directory() as folder:
        engine.load_checkpoint(folder, tag=CHECKPOINT_TAG, load_module_strict=False)
        state = json.loads((Path(folder) / DATA_STATE).read_text())
    progress = Progress(int(state["step"]), DataPosition.from_dict(state["position"]))
    if worker.rank == 0:
        position = progress.position
        progress_print(f"resumed at step {progress.step}, epoch {position.epoch}, block {position.blocks_in_epoch}")
    return progress


def _checkpoint_folder(worker: Worker, name: str) -> Path:
    """The run folder's ``name`` directory (the run folder is Ray's experiment directory), emptied.

    A folder there already was left by a run that died before Ray registered it (a registered
    one would have been resumed from): its files, from another world size maybe, must not mix
    with this save's. Rank 0 removes it while the others wait.
    """
    import torch.distributed as dist

    folder = worker.run.local / name
    if worker.rank == 0:
        shutil.rmtree(folder, ignore_errors=True)
    if dist.is_initialized():
        dist.barrier()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_checkpoint(engine, job: dict[str, Any], worker: Worker, progress: Progress, metrics: dict) -> None:
    """Every rank saves its ZeRO shard and reports it; Ray registers the ranks' files as one checkpoint.

    On a local lake the ranks write straight into the run folder's ``step_N`` directory and
    Ray only registers it: written to a temporary directory and copied, the demo's final
    checkpoint (~2 GB over two ranks) was written twice. On object storage each rank writes
    to a temporary directory that Ray uploads, merging the ranks' files.
    """
    import ray.train

    name = f"step_{progress.step:06d}"
    in_place = not worker.run.remote
    folder = _checkpoint_folder(worker, name) if in_place else Path(tempfile.mkdtemp(prefix=f"ckpt-r{worker.rank}-"))
    engine.save_checkpoint(str(folder), tag=CHECKPOINT_TAG)
    state = {"step": progress.step, "position": progress.position.to_dict()}
    if worker.rank == 0:
        _write_json(folder / DATA_STATE, state)
        _write_json(folder / LINEAGE_FILE, job["lineage"])
        # Before the checkpoint: a resumed run's history may repeat steps (the latest wins), never miss them.
        worker.run.publish("metrics.jsonl")
    upload = ray.train.CheckpointUploadMode.NO_UPLOAD if in_place else ray.train.CheckpointUploadMode.SYNC
    ray.train.report(
        metrics,
        checkpoint=ray.train.Checkpoint.from_directory(str(folder)),
        checkpoint_dir_name=name,
        checkpoint_upload_mode=upload,
    )
    if not in_place:
        shutil.rmtree(folder, ignore_errors=True)
    if worker.rank == 0:  # the driver reads this to build the next run's resume dataset
        _write_json(worker.artifacts / DATA_STATE, state)
        worker.run.publish(DATA_STATE)


def epoch_batches(job: dict[str, Any], worker: Worker, position) -> tuple[Any, int, bool]:
    """This epoch's micro-batches, how many blocks this worker still skips, and whether it resumes.

    The epoch the run stopped in continues from the driver's skip (the ``train_resume``
    dataset), plus what this worker must drop itself if the checkpoint is newer than that skip.
    A checkpoint older than the skip (the run died after publishing its data position but before
    Ray registered that checkpoint) reads the epoch from its start and drops its own blocks.
    """
    import ray.train
    import torch

    resume_skip = job["resume_skip_blocks"]
    resuming = (position.epoch == job["resume_epoch"] and 0 < resume_skip <= position.blocks_in_epoch
                and "train_resume" in job["datasets"])
    shard = ray.train.get_dataset_shard("train_resume" if resuming else "train")
    local_skip = (position.blocks_in_epoch - (resume_skip if resuming else 0)) // worker.world
    micro = job["settings"].micro_batch_size
    batches = shard.iter_torch_batches(batch_size=micro, drop_last=True, dtypes=torch.long, device=worker.device)
    return iter(batches), local_skip, resuming


def train_micro_batch(engine, batch, worker: Worker, progress: Progress) -> None:
    """Forward, backward and (at the accumulation boundary, inside DeepSpeed) the optimizer step."""
    from training.metrics import block_fingerprints

    loss = engine(input_ids=batch["input_ids"], labels=batch["labels"]).loss
    engine.backward(loss)
    engine.step()
    progress.losses.append(loss.detach().item())
    if worker.rank == 0:
        progress.fingerprints.extend(block_fingerprints(batch["input_ids"]))


def step_metrics(job, engine, scheduler, worker: Worker, progress: Progress, step_time: float, wait: float,
                 flops_token: float, peak_tflops: float):
    """Close an optimizer step: loss averaged over ranks, eval when due, throughput and MFU."""
    from training.metrics import StepMetrics, mfu

    settings = job["settings"]
    (loss,) = _all_reduce_mean([sum(progress.losses) / len(progress.losses)], worker.device)
    eval_loss = None
    due = settings.eval_every and (
        progress.step % settings.eval_every == 0 or progress.step == settings.max_steps)
    if due and worker.valid is not None:
        eval_loss = _evaluate(engine, worker.valid, settings.micro_batch_size, worker.device)
    tokens_per_s = _tokens_per_step(settings, worker.world) / step_time
    metrics = StepMetrics(
        step=progress.step,
        loss=loss,
        lr=scheduler.get_last_lr()[0],
        tokens_per_s=tokens_per_s,
        mfu=mfu(tokens_per_s, flops_token, peak_tflops * worker.world),
        data_wait_fraction=wait / step_time if step_time else 0.0,
        step_time_s=step_time,
        tokens_seen=progress.position.tokens_seen,
        epoch=progress.position.epoch,
        eval_loss=eval_loss,
        block_fingerprints=progress.fingerprints if worker.rank == 0 else None,
    )
    progress.losses, progress.fingerprints = [], []
    return metrics


def _tokens_per_step(settings: dict[str, Any], world: int) -> int:
    return settings.micro_batch_size * settings.grad_accum * world * settings.seq_len


def _peak_tflops(settings: dict[str, Any], worker: Worker, on_gpu: bool) -> float:
    import torch

    from training.metrics import cpu_peak_tflops, gpu_peak_tflops

    peak = settings.peak_tflops or (gpu_peak_tflops(torch.cuda.get_device_name(worker.device)) if on_gpu else None)
    return peak or cpu_peak_tflops()


def train_loop_per_worker(job: dict[str, Any]) -> None:
    """Set up, restore, then step through epochs until ``max_steps``, with eval and checkpoints."""
    settings = job["settings"]
    on_gpu = settings.use_gpu
    _prepare_environment(settings, on_gpu)
    from training.metrics import MetricsSink, StepClock

    worker = join_run(job, on_gpu)
    engine, scheduler, flops_token = build_engine(job, on_gpu)
    progress = restore(engine, worker)
    peak = _peak_tflops(settings, worker, on_gpu)
    sink = MetricsSink(worker.artifacts, settings.max_steps, settings.log_every) if worker.rank == 0 else None
    micro, accum, max_steps = settings.micro_batch_size, settings.grad_accum, settings.max_steps
    while progress.step < max_steps:
        batches, local_skip, resuming = epoch_batches(job, worker, progress.position)
        clock, got_any = StepClock(), False
        for batch in clock.timed(batches):
            got_any = True
            if local_skip > 0:  # blocks this worker already trained on before the checkpoint
                local_skip -= micro
                clock.lap()
                continue
            train_micro_batch(engine, batch, worker, progress)
            if len(progress.losses) < accum:
                continue
            progress.step += 1
            progress.position.blocks_in_epoch += micro * accum * worker.world
            progress.position.tokens_seen += _tokens_per_step(settings, worker.world)
            metrics = step_metrics(job, engine, scheduler, worker, progress, *clock.lap(), flops_token, peak)
            if sink:
                sink.log(metrics)
            if progress.step % settings.checkpoint_every == 0 or progress.step == max_steps:
                save_checkpoint(engine, job, worker, progress,
                                {"step": progress.step, "loss": metrics.loss, "eval_loss": metrics.eval_loss})
            clock.lap()  # eval and checkpoint time is not training throughput
            if progress.step >= max_steps:
                break
        else:
            # A resumed epoch may have nothing left (the checkpoint fell on its last step): go on
            # with the next one. A fresh epoch without a single micro-batch is an empty split.
            if not got_any and not resuming:
                raise RuntimeError(
                    "the train split gives no full micro-batch: add data or lower seq_len/micro_batch_size"
                )
            progress.position.epoch += 1
            progress.position.blocks_in_epoch = 0
    if sink:
        sink.close()
        worker.run.publish("metrics.jsonl", "tensorboard")
