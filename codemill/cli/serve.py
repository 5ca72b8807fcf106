"""`codemill serve`: the OpenAI-compatible completion API; `codemill serve report`: acceptance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from codemill.cli.context import STATE, fail

serve_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
)


@serve_app.callback()
def serve(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Training run id, export directory, hub id, smollm2 or tiny. "
            "Default: the newest promoted run (codemill promote), else the embedded smollm2.",
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Interface to bind (default serve.host, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="TCP port (default serve.port, 8000).")] = None,
) -> None:
    """Serve a model over an OpenAI-compatible API built for code editors.

    POST /v1/completions (prompt, suffix = fill-in-the-middle, stream, mode line|block|auto,
    extra_context), /v1/chat/completions, GET /v1/models (run id, gold version, lineage),
    POST /v1/events (shown/accepted/dismissed → ops.completion_events), /health, /ready,
    /metrics. Stops cleanly on Ctrl-C / SIGTERM (events are flushed to Delta).

    Examples:

      codemill serve                         # newest promoted run, else smollm2

      codemill serve --model RUN_ID --port 8000

      CODEMILL_SERVE_API_KEYS=... codemill serve --host 0.0.0.0 serve.max_batch_size=32

      codemill serve report                  # acceptance rate per model and language
    """
    if ctx.invoked_subcommand is not None:
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see serving.server)
    from serving.server import ServeError
    from serving.server import serve as run_server

    try:
        run_server(STATE.config, model, host, port)
    except ServeError as err:
        fail(f"serve: {err}")


@serve_app.command("report")
def report(
    days: Annotated[int | None, typer.Option("--days", help="Only events of the last N days.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="PNG path (default <lake>/_serve/reports/...).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Acceptance rate of served completions per model and language, with a plot (PNG)."""
    import json

    from serving.events.report import acceptance_table, plot_acceptance, read_events

    config = STATE.config
    events = read_events(config, days)
    if events.empty:
        fail(f"no completion events in ops.completion_events under {config.lake.root}", code=1)
    table = acceptance_table(events)
    png = plot_acceptance(table, output or config.lake.root / "_serve" / "reports" / "acceptance.png")
    if as_json:
        typer.echo(json.dumps(table.to_dict(orient="records"), indent=2, default=str))
    else:
        typer.echo(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    typer.echo(f"plot: {png}")


def promote(
    run_id: Annotated[str | None, typer.Argument(help="Training run id to promote.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why (kept with the promotion).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even without an evaluation.")] = False,
    show: Annotated[bool, typer.Option("--list", help="List promotions, newest first.")] = False,
) -> None:
    """Mark a training run as the one `codemill serve` serves by default.

    The promotion is recorded in ops.promotions with the run's export, gold version and the
    metrics of its newest evaluation (codemill eval --model RUN_ID).
    """
    from serving.promotion import PromotionError, promotions
    from serving.promotion import promote as promote_run

    config = STATE.config
    if show or run_id is None:
        rows = promotions(config)
        if not rows:
            typer.echo("no promotions yet (codemill promote RUN_ID)")
        for row in rows:
            typer.echo(f"{row['promoted_at']:%Y-%m-%d %H:%M:%S} UTC  {row['run_id']}  gold v{row['table_version']}  "
                       f"{row['eval_summary_json'] or '(not evaluated)'}")
        return
    try:
        row = promote_run(config, run_id, note, force)
    except PromotionError as err:
        fail(f"promote: {err}")
    typer.echo(f"promoted {row['run_id']} (gold v{row['table_version']}, export {row['export_path']})")
    typer.echo(f"evaluation: {row['eval_summary_json'] or '(none: promoted with --force)'}")


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")
    app.command("promote")(promote)
