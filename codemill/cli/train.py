"""`codemill train`: fine-tune a causal LM on the published gold table with Ray Train + DeepSpeed."""

from __future__ import annotations

import typer

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

    Prints the run id and the Hugging Face export directory. jobs/train.py (the Ray cluster
    entry) takes the same options. Any other setting is a
    train.key=value override (see `codemill config show`), e.g. train.seq_len=512
    train.offload_optimizer=true ray.address=auto.
    """
    from training.entry import TrainOptions, summary_lines, train
    from training.lineage import LineageError
    from training.model import ModelSpecError
    from training.trainer import TrainingError

    options = TrainOptions(model, max_steps, workers, zero_stage, table_version, allow_unvalidated, run_name)
    try:
        result = train(STATE.config, options)
    except (LineageError, TrainingError, ModelSpecError) as err:
        fail(str(err).splitlines()[0])
    for line in summary_lines(result):
        typer.echo(line)
    for warning in result.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
