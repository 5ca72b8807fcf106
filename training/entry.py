"""The one entry of the training job: `codemill train` and ``jobs/train.py`` both call :func:`train`.

Both front ends declare the same options (:data:`OPTIONS`, held to by a test), build a
:class:`TrainOptions` and print :func:`summary_lines` of the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from training.config import TrainingConfig
from training.trainer import TrainingError, TrainingResult, run_training

# Long option names of the training job, in --help order.
OPTIONS = ("--model", "--max-steps", "--workers", "--zero-stage", "--table-version", "--allow-unvalidated",
           "--run-name")


@dataclass(frozen=True)
class TrainOptions:
    model: str | None = None  # each of these four overrides train.<name> when given
    max_steps: int | None = None
    workers: int | None = None
    zero_stage: int | None = None
    table_version: int | None = None
    allow_unvalidated: bool = False
    run_name: str | None = None


def apply_options(config: TrainingConfig, options: TrainOptions) -> None:
    """Set the train.* values given as options, validated like the config file."""
    for key in ("model", "max_steps", "workers", "zero_stage"):
        value = getattr(options, key)
        if value is None:
            continue
        try:
            setattr(config.train, key, value)
        except ValidationError as err:
            raise TrainingError(f"invalid --{key.replace('_', '-')} {value}: {err.errors()[0]['msg']}") from None


def train(config: TrainingConfig, options: TrainOptions) -> TrainingResult:
    """Train (or resume) a run with these options; raises LineageError, TrainingError, ModelSpecError."""
    apply_options(config, options)
    return run_training(config, run_name=options.run_name, table_version=options.table_version,
                        allow_unvalidated=options.allow_unvalidated)


def mixture_line(plan: dict) -> str:
    """``mixture (token shares, realised/configured): code 0.801/0.800, docs …``."""
    shares = ", ".join(f"{kind} {plan['shares'][kind]:.3f}/{share:.3f}" for kind, share in plan["configured"].items()
                       if kind in plan["shares"])
    return f"mixture (token shares, realised/configured): {shares}"


def summary_lines(result: TrainingResult) -> list[str]:
    """What both front ends print when a run ends (warnings are separate: result.warnings)."""
    table = result.table
    origin = "unvalidated" if table.allow_unvalidated else f"published by {table.quality_result_id}"
    loss = f"  final loss: {result.final_loss:.4f}" if result.final_loss is not None else ""
    lines = [
        f"run id: {result.run_id}",
        f"table: {table.table_name} version {table.table_version} ({origin})",
        f"steps: {result.steps}{loss}",
    ]
    if result.loss_curve:
        lines.append(f"loss curve: {result.loss_curve}")
    if result.mixture:
        lines.append(mixture_line(result.mixture))
    lines += [f"checkpoint: {result.checkpoint_path}", f"export dir: {result.export_dir}"]
    return lines
