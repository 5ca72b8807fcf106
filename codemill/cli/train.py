"""`codemill train`: fine-tune a causal LM on the published gold table with Ray Train + DeepSpeed."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from codemill.cli.context import STATE, fail


def train(
    model: str = typer.Option(
        None, "--model", help="tiny, smollm2, a local model directory or a hub id (train.model)."
    ),
    max_steps: int = typer.Option(None, "--max-steps", help="Optimizer steps to reach (train.max_steps)."),
    workers: int = typer.Option(
        None, "--workers", help="Ray Train workers, one DeepSpeed rank each (train.workers)."
    ),
    zero_stage: int = typer.Option(
        None, "--zero-stage", help="DeepSpeed ZeRO stage 1, 2 or 3 (train.zero_stage)."
    ),
    table_version: int = typer.Option(
        None, "--table-version", help="Gold version to read; default: the latest published one."
    ),
    allow_unvalidated: bool = typer.Option(
        False, "--allow-unvalidated", help="Train on a version that never passed its quality gate (recorded)."
    ),
    run_name: str = typer.Option(
        None,
        "--run-name",
        help="Name of the run; rerunning an existing name resumes it from its last checkpoint.",
    ),
) -> None:
    """Fine-tune a model on gold.training_corpus, streamed from Delta through Ray Data into DeepSpeed ZeRO.

    Prints the run id and the Hugging Face export directory. Any other setting is a
    train.key=value override (see `codemill config show`), e.g. train.seq_len=512
    train.offload_optimizer=true ray.address=auto.
    """
    from training.lineage import LineageError
    from training.model import ModelSpecError
    from training.trainer import TrainingError, run_training

    flags = {"model": model, "max_steps": max_steps, "workers": workers, "zero_stage": zero_stage}
    config = STATE.config
    for key, value in flags.items():
        if value is None:
            continue
        try:
            setattr(config.train, key, value)  # validated like the config file
        except ValidationError as err:
            fail(f"invalid --{key.replace('_', '-')} {value}: {err.errors()[0]['msg']}")
    try:
        result = run_training(
            config, run_name=run_name, table_version=table_version, allow_unvalidated=allow_unvalidated
        )
    except (LineageError, TrainingError, ModelSpecError) as err:
        fail(str(err).splitlines()[0])
    typer.echo(f"run id: {result.run_id}")
    table = result.table
    origin = "unvalidated" if table.allow_unvalidated else f"published by {table.quality_result_id}"
    typer.echo(f"table: {table.table_name} version {table.table_version} ({origin})")
    loss = f"  final loss: {result.final_loss:.4f}" if result.final_loss is not None else ""
    typer.echo(f"steps: {result.steps}{loss}")
    if result.loss_curve:
        typer.echo(f"loss curve: {result.loss_curve}")
    typer.echo(f"checkpoint: {result.checkpoint_path}")
    typer.echo(f"export dir: {result.export_dir}")
    for warning in result.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
