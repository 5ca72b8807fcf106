"""`codemill lineage RUN`: where a training run's model came from and where it went."""

from __future__ import annotations

import typer

from codemill.cli.context import STATE, fail


def lineage(
    run_id: str = typer.Argument(..., help="Training run id (printed by `codemill train`)."),
    show_config: bool = typer.Option(
        False, "--config-yaml", help="Also print the run's full effective configuration."
    ),
) -> None:
    """Print a training run's lineage: gold table path and version, the quality result that
    published it, model, code version, steps and loss, checkpoint and export directory."""
    from training.lineage import quality_result, read_run

    config = STATE.config
    row = read_run(config, run_id)
    if row is None:
        fail(f"no training run {run_id!r} in ops.training_runs under {config.lake.root}")
    result = quality_result(config, row["quality_result_id"])
    if row["allow_unvalidated"]:
        published = "NOT published (trained with --allow-unvalidated)"
    elif result is None:
        published = f"quality result {row['quality_result_id']} (row not found)"
    else:
        published = (
            f"quality result {result['result_id']}: suite {result['suite_name']}, "
            f"{result['successful_expectations']}/{result['evaluated_expectations']} expectations passed, "
            f"validated {result['validated_at']:%Y-%m-%d %H:%M:%S} UTC"
        )
    lines = [
        ("run", row["run_id"]),
        ("status", row["status"]),
        ("started", f"{row['started_at']:%Y-%m-%d %H:%M:%S} UTC"),
        ("finished", f"{row['finished_at']:%Y-%m-%d %H:%M:%S} UTC" if row["finished_at"] else "-"),
        ("model", row["model_name"]),
        ("table", f"{row['table_path']} @ version {row['table_version']}"),
        ("published by", published),
        ("steps", row["steps"] if row["steps"] is not None else "-"),
        ("final loss", f"{row['final_loss']:.4f}" if row["final_loss"] is not None else "-"),
        ("code", row["code_version"]),
        ("checkpoint", row["checkpoint_path"] or "-"),
        ("export", row["export_path"] or "-"),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        typer.echo(f"{name:<{width}}  {value}")
    if show_config:
        typer.echo("config:")
        typer.echo(row["config_yaml"], nl=False)


def register(app: typer.Typer) -> None:
    app.command("lineage")(lineage)
