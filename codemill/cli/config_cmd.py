"""`codemill config show`: print the effective configuration."""

from __future__ import annotations

import typer

from codemill.cli.context import STATE

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@config_app.command("show")
def show() -> None:
    """Print the configuration a run would use (defaults, --config file, CODEMILL_LAKE, overrides)."""
    typer.echo(STATE.config.to_yaml(), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
