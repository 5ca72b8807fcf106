"""The driver side of a training run: choose the data, start Ray Train, export, record lineage.

A run lives under ``<storage>/<run name>/``: Ray Train's checkpoints (``step_NNNNNN``) next
to codemill's own ``codemill/`` folder (run manifest, base model, metrics, TensorBoard,
loss curve, worker pids) and the Hugging Face ``export/``. Rerunning the same run name picks
up the same folder: Ray hands the workers the latest checkpoint and the data pipeline is
rebuilt to start where the run stopped.

The run folder may be on object storage (an ``s3://`` lake, or ``train.storage_path``): Ray
Train then checkpoints through a pyarrow filesystem built from the lake's storage settings,
and codemill's files go through ``training.run_folder`` (decision 0173).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from data_platform import storage
from data_platform.ops.logs import engine_output_to_log
from data_platform.ops.runs import code_version, new_run_id, now
from data_platform.storage import Location
from training.allocator import allocator_env
from training.config import TrainingConfig
from training.fim import fim_lineage
from training.lineage import TableChoice, choose_table_version, record_run
from training.loop import DATA_STATE, LINEAGE_FILE
from training.ray_console import init_ray
from training.ray_resources import unmet_request
from training.run_folder import RunFolder, worker_env

log = logging.getLogger(__name__)

MANIFEST = "run.json"
# lake.storage_options keys whose values are credentials (AWS, GCS, Azure spellings).
_SECRET_OPTION = re.compile(r"SECRET|TOKEN|PASSWORD|ACCESS_KEY|ACCOUNT_KEY|SAS|CREDENTIAL", re.IGNORECASE)


class TrainingError(RuntimeError):
    """The run could not start or did not finish; one-line message."""


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    run_dir: Location  # a local Path, or a LakeURI when the run folder is on object storage
    steps: int
    final_loss: float | None
    checkpoint_path: str | None
    export_dir: Location | None
    loss_curve: Location | None
    table: TableChoice
    warnings: tuple[str, ...] = ()  # e.g. a corpus smaller than one global batch was padded and repeated
    mixture: dict | None = None  # train.mixture's plan: configured and realised token shares per kind


def runs_root(config: TrainingConfig) -> Location:
    """Where run folders live: train.storage_path (a path or a URI) or ``<lake>/_train``."""
    if not config.train.storage_path:
        return config.lake.root / "_train"
    root = storage.as_location(config.train.storage_path)
    # A storage_path outside the lake reaches its store with the lake's settings.
    storage.register_options(root, config.lake.storage_options)
    return root


def run_folder(config: TrainingConfig, run_id: str) -> RunFolder:
    return RunFolder(runs_root(config) / run_id, config.lake.cache_dir)


def run_paths(config: TrainingConfig, run_id: str) -> tuple[Location, Location]:
    """(run dir, codemill artifacts dir) of a run: local paths, or URIs on object storage."""
    run = run_folder(config, run_id)
    return run.root, run.artifacts


def ray_storage(config: TrainingConfig):
    """(storage_path, storage_filesystem) for Ray Train's RunConfig: the runs root, through the lake's
    own pyarrow filesystem when it is on object storage (same endpoint and keys as every other read)."""
    root = runs_root(config)
    if isinstance(root, Path):
        return str(root), None
    filesystem, path = storage.filesystem(root)
    return path, filesystem


def _choose_data(
    config: TrainingConfig, manifest: dict | None, table_version: int | None, allow: bool
) -> TableChoice:
    if manifest is None:
        return choose_table_version(config, table_version, allow)
    stored = TableChoice(**manifest["table"])
    if table_version is not None and table_version != stored.table_version:
        raise TrainingError(
            f"run {manifest['run_id']} trained on version {stored.table_version}; a resumed run cannot switch "
            f"to version {table_version} (use a new --run-name)"
        )
    return stored


def _prepare_base_model(config: TrainingConfig, table: TableChoice, run: RunFolder) -> Path:
    """The run's starting weights and tokenizer (FIM tokens included), saved once per run.

    Workers load this folder instead of the original spec: every rank starts from identical
    weights and the tiny tokenizer is trained only once. smollm2's is linked from the machine's
    model cache (training.model_cache), which holds it FIM tokens included: nothing is loaded.
    A resumed run on object storage downloads the folder its first attempt published.
    """
    if run.has_folder("base_model"):
        return run.fetch_folder("base_model")
    folder = run.local_artifacts / "base_model"
    if (folder / "config.json").is_file():  # built here by an attempt that died before publishing it
        run.publish_folder("base_model")
        return folder
    from training.data import sample_texts
    from training.model import load_model_and_tokenizer, save_model_dir, saved_model_folder
    from training.model_cache import link_or_copy_folder

    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)  # a half-written copy of an attempt that died
    saved = saved_model_folder(config.train.model)
    if saved is not None:  # smollm2's cache holds exactly what a load would give
        link_or_copy_folder(saved, staging)
    else:
        texts = sample_texts(table.table_path, table.table_version) if config.train.model == "tiny" else None
        model, tokenizer = load_model_and_tokenizer(config.train.model, texts=texts, seed=config.train.seed)
        save_model_dir(model, tokenizer, staging)
    staging.replace(folder)
    run.publish_folder("base_model")
    return folder


def recorded_config(config: TrainingConfig) -> dict[str, Any]:
    """The configuration as a run records it (ops.training_runs, checkpoint and export lineage), with
    storage credentials masked: lineage travels with every export, keys must not."""
    data = config.model_dump(mode="json")
    options = data["lake"].get("storage_options") or {}
    data["lake"]["storage_options"] = {key: "***" if _SECRET_OPTION.search(key) else value
                                       for key, value in options.items()}
    return data


def _split_has_rows(table: TableChoice, split: str) -> bool:
    import pyarrow.dataset as pads

    from data_platform.storage import delta_table

    dataset = delta_table(table.table_path, version=table.table_version).to_pyarrow_dataset()
    return dataset.head(1, columns=["split"], filter=pads.field("split") == split).num_rows > 0


def _datasets(config: TrainingConfig, table: TableChoice, base_model: Path, position: dict | None,
              mixture: dict | None = None):
    from training.data import DataSpec, _tokenizer, configure_data_context, packed_dataset
    from training.model import document_separator_id
    from training.small_corpus import small_split
    from training.valid_set import valid_blocks

    train = config.train
    configure_data_context()
    # The cached tokenizer the stream's actors and the eval set use too: loaded once on the driver.
    eos_id = document_separator_id(_tokenizer(str(base_model)))
    spec = DataSpec(
        table_path=table.table_path,
        table_version=table.table_version,
        tokenizer_dir=str(base_model),
        seq_len=train.seq_len,
        fim_rate=train.fim_rate,
        fim_spm_rate=train.fim_spm_rate,
        seed=train.seed,
        max_documents=train.max_documents,
        mixture_rates=mixture["rates"] if mixture else None,
    )
    if not _split_has_rows(table, "train"):
        raise TrainingError(f"{table.table_name} version {table.table_version} has no train rows")
    warnings = []
    # A split smaller than one optimizer step trains padded and repeated (see training.small_corpus).
    small = small_split(spec, "train", eos_id, train.micro_batch_size * train.workers * train.grad_accum)
    if small is not None:
        warnings.append(small.warning())
    # No epoch of a run reads more blocks than the whole run trains on (skipped ones included),
    # so a run shorter than an epoch stops its stream there.
    stream = {"tokenize_actors": train.tokenize_actors,
              "max_blocks": train.max_steps * train.micro_batch_size * train.workers * train.grad_accum}
    datasets = {"train": small.dataset() if small else packed_dataset(spec, "train", eos_id, **stream)}
    resume_epoch, resume_skip = 0, 0
    if position and position["blocks_in_epoch"]:
        resume_epoch, resume_skip = position["epoch"], position["blocks_in_epoch"]
        datasets["train_resume"] = (small.dataset(resume_skip) if small
                                    else packed_dataset(spec, "train", eos_id, skip_blocks=resume_skip, **stream))
    valid = None
    if train.eval_every:
        valid = valid_blocks(spec, "valid", eos_id, count=train.eval_batches * train.micro_batch_size * train.workers,
                             minimum=train.micro_batch_size * train.workers)
        if valid is not None and valid.warning():
            warnings.append(valid.warning())
    for warning in warnings:
        log.warning(warning)
    return datasets, valid, spec, resume_epoch, resume_skip, warnings


def _trainer(config: TrainingConfig, run: RunFolder, job: dict[str, Any], datasets: dict):
    from ray.data import ExecutionOptions
    from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    train = config.train
    resources = {"CPU": train.cpus_per_worker}
    if train.use_gpu:
        resources["GPU"] = 1
    env = {
        "DS_ACCELERATOR": "cuda" if train.use_gpu else "cpu",
        "TOKENIZERS_PARALLELISM": "false",
        # Ray Train routes print() through a logger that echoes it twice; progress lines once is enough.
        "RAY_TRAIN_ENABLE_PRINT_PATCH": "0",
    }
    env["TORCH_EXTENSIONS_DIR"] = str(train.extensions_path())
    # Set where the worker process starts: glibc reads them once, before the first allocation.
    env.update(allocator_env(train.tune_allocator and not train.use_gpu))
    env.update(worker_env(run))
    storage_path, storage_filesystem = ray_storage(config)
    return TorchTrainer(
        train_loop_per_worker=_train_fn,
        train_loop_config=job,
        torch_config=TorchConfig(backend="nccl" if train.use_gpu else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=train.workers,
            use_gpu=train.use_gpu,
            resources_per_worker=resources,
            placement_strategy=train.placement_strategy,
        ),
        run_config=RunConfig(
            name=run.root.name,
            storage_path=storage_path,
            storage_filesystem=storage_filesystem,
            failure_config=FailureConfig(max_failures=train.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=train.keep_checkpoints),
            worker_runtime_env={"env_vars": env},
        ),
        datasets=datasets,
        # No object-store limit on the stream: one of 16 MiB kept Ray Data's split coordinator
        # polling at ~70% of a core while backpressured, and SmolLM2 trained at 50 tokens/s
        # instead of 150-175 on 2 cores.
        dataset_config=DataConfig(execution_options=ExecutionOptions(preserve_order=True)),
    )


def _train_fn(job: dict[str, Any]) -> None:
    # Imported inside the worker so the driver never imports DeepSpeed just to submit.
    from training.loop import train_loop_per_worker

    train_loop_per_worker(job)


def _lineage_row(
    config: TrainingConfig, run_id: str, table: TableChoice, started_at, status: str, **extra: Any
) -> dict[str, Any]:
    row = {
        "run_id": run_id,
        "status": status,
        "started_at": started_at,
        "model_name": config.train.model,
        "table_path": table.table_path,
        "table_version": table.table_version,
        "quality_result_id": table.quality_result_id,
        "allow_unvalidated": table.allow_unvalidated,
        "config_yaml": yaml.safe_dump(recorded_config(config), sort_keys=False),
        "code_version": code_version(),
    }
    row.update(extra)
    return row


def run_training(
    config: TrainingConfig,
    run_name: str | None = None,
    table_version: int | None = None,
    allow_unvalidated: bool = False,
) -> TrainingResult:
    """Train (or resume) a run end to end; returns where its outputs are."""
    run_id = run_name or new_run_id("train")
    # Named before anything imports DeepSpeed here, so it does not guess (and warn) on the driver.
    os.environ.setdefault("DS_ACCELERATOR", "cuda" if config.train.use_gpu else "cpu")
    run = run_folder(config, run_id)
    try:
        table = _open_run(config, run_id, run, table_version, allow_unvalidated)
    except OSError as err:  # the object store is unreachable or refuses us: one line, not a traceback
        raise TrainingError(f"cannot open run folder {run.root}: {err}") from err
    lineage = _lineage(config, run_id, table)
    started_at = now()
    record_run(config, _lineage_row(config, run_id, table, started_at, "running"))
    try:
        result, base_model, warnings = _fit(config, run, table, lineage)
        outcome = _collect_outcome(config, result, run, base_model, lineage)
    except BaseException as err:
        record_run(config, _lineage_row(config, run_id, table, started_at, "failed", finished_at=now()))
        if isinstance(err, TrainingError):
            raise
        if isinstance(err, Exception):
            raise TrainingError(f"training run {run_id} failed: {type(err).__name__}: {err}") from err
        raise
    record_run(
        config,
        _lineage_row(
            config,
            run_id,
            table,
            started_at,
            "succeeded",
            finished_at=now(),
            steps=outcome.steps,
            final_loss=outcome.final_loss,
            checkpoint_path=str(outcome.checkpoint_path) if outcome.checkpoint_path else None,
            export_path=str(outcome.export_dir) if outcome.export_dir else None,
        ),
    )
    return TrainingResult(run_id, run.root, outcome.steps, outcome.final_loss, outcome.checkpoint_path,
                          outcome.export_dir, outcome.loss_curve, table, tuple(warnings), lineage.get("mixture"))


def _open_run(config: TrainingConfig, run_id: str, run: RunFolder, table_version: int | None,
              allow_unvalidated: bool) -> TableChoice:
    """The table version this run trains on; a resumed run keeps its manifest's model and table."""
    manifest_path = run.artifacts / MANIFEST
    manifest = json.loads(storage.read_text(manifest_path)) if storage.exists(manifest_path) else None
    table = _choose_data(config, manifest, table_version, allow_unvalidated)
    if manifest is not None and manifest["model"] != config.train.model:
        raise TrainingError(
            f"run {run_id} trains {manifest['model']}; cannot resume it with {config.train.model}"
        )
    run.local_artifacts.mkdir(parents=True, exist_ok=True)
    if manifest is None:
        manifest = {"run_id": run_id, "model": config.train.model, "table": asdict(table)}
        storage.write_text(manifest_path, json.dumps(manifest, indent=2))
    return table


def _lineage(config: TrainingConfig, run_id: str, table: TableChoice) -> dict[str, Any]:
    """What every checkpoint and export of this run carries about its origin."""
    return {
        "run_id": run_id,
        "table_name": table.table_name,
        "table_path": table.table_path,
        "table_version": table.table_version,
        "quality_result_id": table.quality_result_id,
        "allow_unvalidated": table.allow_unvalidated,
        "model": config.train.model,
        "code_version": code_version(),
        "config": recorded_config(config),
        # What serving needs to build fill-in-the-middle prompts the way training did.
        "fim": fim_lineage(config.train.fim_rate, config.train.fim_spm_rate),
        "mixture": _mixture_plan(config, table),
    }


def _mixture_plan(config: TrainingConfig, table: TableChoice) -> dict[str, Any] | None:
    """train.mixture's sampling rates and the token shares they realise on the train split (None: no mixture)."""
    if not config.train.mixture:
        return None
    from training.mixture import plan_mixture

    try:
        plan = plan_mixture(table.table_path, table.table_version, "train", config.train.mixture, config.train.seed)
    except ValueError as err:
        raise TrainingError(str(err)) from err
    shares = ", ".join(f"{kind} {share:.3f}" for kind, share in plan["shares"].items())
    log.warning("train.mixture: realised token shares %s (configured %s)", shares, plan["configured"])
    return plan


def _fit(config: TrainingConfig, run: RunFolder, table: TableChoice, lineage: dict[str, Any]):
    """(Ray Train result, base model directory, data warnings): data, model and workers started, then trained."""
    with engine_output_to_log("training.model"):  # loading bars, GGUF dequantisation
        base_model = _prepare_base_model(config, table, run)
    position_file = run.fetch(DATA_STATE)
    position = json.loads(position_file.read_text())["position"] if position_file else None
    init_ray(config)
    _check_ray_fits(config)
    datasets, valid, spec, resume_epoch, resume_skip, warnings = _datasets(config, table, base_model, position,
                                                                           lineage.get("mixture"))
    if lineage.get("mixture"):  # the run's data report: configured and realised shares per kind
        storage.write_text(run.artifacts / "mixture.json", json.dumps(lineage["mixture"], indent=2))
    job = {
        "settings": config.train,  # typed: Ray pickles it to every worker
        "data": spec.to_dict(),
        "run": run,  # each worker finds (or downloads) the base model and writes its records through it
        "datasets": sorted(datasets),
        # The eval blocks, one object-store reference per rank (training.valid_set); None: no eval.
        "valid": valid.shard_refs(config.train.workers) if valid is not None else None,
        "resume_epoch": resume_epoch,
        "resume_skip_blocks": resume_skip,
        "lineage": lineage,
    }
    result = _trainer(config, run, job, datasets).fit()
    if result.error is not None:
        raise TrainingError(f"training failed: {result.error}")
    return result, base_model, warnings


def _check_ray_fits(config: TrainingConfig) -> None:
    """Refuse a run the embedded Ray can never place (it would wait forever); on a cluster, say so."""
    import ray

    problem = unmet_request(config.train, ray.cluster_resources())
    if problem is None:
        return
    if config.ray.address == "local":
        raise TrainingError(f"this machine cannot run the training workers: {problem}")
    log.warning("the Ray cluster cannot place the training workers yet (waiting for it to grow): %s", problem)


@dataclass(frozen=True)
class _Outcome:
    steps: int
    final_loss: float | None
    checkpoint_path: Any
    export_dir: Location | None
    loss_curve: Location | None


def _collect_outcome(config: TrainingConfig, result, run: RunFolder, base_model: Path,
                     lineage: dict[str, Any]) -> _Outcome:
    """Steps, final loss and loss curve from the metrics file; the Hugging Face export if asked for."""
    from training.metrics import plot_loss_curve, read_metrics

    checkpoint_path = run.location_of(result.checkpoint.path) if result.checkpoint is not None else None
    metrics_file = run.fetch("metrics.jsonl") or run.local_artifacts / "metrics.jsonl"  # rank 0 published it
    metrics = read_metrics(metrics_file)
    steps = max((row["step"] for row in metrics), default=0)
    final_loss = next((row["loss"] for row in reversed(metrics) if row["step"] == steps), None)
    loss_curve = plot_loss_curve(metrics_file, run.local_artifacts / "loss_curve.png")
    if loss_curve is not None:
        run.publish(loss_curve.name)
        loss_curve = run.artifacts / loss_curve.name
    export_dir = None
    if config.train.export and result.checkpoint is not None:
        from training.export import export_checkpoint

        with result.checkpoint.as_directory() as folder, engine_output_to_log("training.export"):
            # as_directory: a download when storage is remote
            export_dir = export_checkpoint(Path(folder), base_model, run.local / "export", lineage)
        if run.remote:
            storage.upload_tree(export_dir, run.root / "export")
            export_dir = run.root / "export"
    return _Outcome(steps, final_loss, checkpoint_path, export_dir, loss_curve)


def checkpoint_lineage(checkpoint_dir: Path) -> dict[str, Any] | None:
    """The lineage a checkpoint carries (written by rank 0 next to its shard)."""
    path = checkpoint_dir / LINEAGE_FILE
    return json.loads(path.read_text()) if path.is_file() else None
