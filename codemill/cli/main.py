"""`codemill`: the command-line entry point.

Every command accepts ``--config FILE``, ``--verbose`` and any number of
``section.key=value`` overrides anywhere on the line (``codemill sql "SELECT 1"
spark.master=local[2]``). Overrides are taken out of the arguments before the command
parser sees them, so each command's own arguments stay simple.
"""

from __future__ import annotations

import importlib
import sys

import typer

from codemill import __version__
from codemill.cli.context import STATE, configure_logging
from data_platform.config import is_override
from serving.config import CodemillConfig

app = typer.Typer(
    name="codemill",
    help="Curate source code into Delta Lake tables, fine-tune code models on them and serve them to editors.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

# Each module registers its commands on the app; listed in the order --help shows them.
COMMAND_MODULES = [
    "config_cmd", "tables", "sql", "sql_server", "submit", "ingest", "quality", "train", "evaluate", "lineage", "serve", "lsp",
    "plan", "purge",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codemill {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Curate source code into Delta Lake tables, fine-tune code models on them and serve them to editors.

    Global options, accepted anywhere on the line: --config FILE (YAML), --verbose
    (engine logs on the console instead of the run log under <lake>/_logs/), and
    section.key=value overrides (see `codemill config show`).
    """


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"codemill.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"codemill.cli.{name}":
                continue  # command not built yet in this checkout
            raise
        module.register(app)


def split_global_arguments(argv: list[str]) -> tuple[list[str], str | None, list[str], bool]:
    """Separate --config/--verbose/overrides from the command's own arguments."""
    rest, overrides, config_path, verbose = [], [], None, False
    args = iter(argv)
    for token in args:
        if token == "--config":
            config_path = next(args, None)
        elif token.startswith("--config="):
            config_path = token.split("=", 1)[1]
        elif token in ("--verbose", "-v"):
            verbose = True
        elif is_override(token, CodemillConfig):
            overrides.append(token)
        else:
            rest.append(token)
    return rest, config_path, overrides, verbose


def main(argv: list[str] | None = None) -> None:
    rest, config_path, overrides, verbose = split_global_arguments(list(sys.argv[1:] if argv is None else argv))
    # A fresh context per call: tests and embedding programs may call main() repeatedly.
    STATE.config_path = config_path
    STATE.overrides = overrides
    STATE.verbose = verbose
    STATE.command = next((token for token in rest if not token.startswith("-")), "codemill")
    STATE._config = None
    STATE.run_log = None
    STATE._spark = None
    configure_logging(verbose)
    _register_commands()
    app(args=rest, prog_name="codemill")


def console_main() -> None:
    """Entry point of the `codemill` script: run the command, then leave without finalisers.

    Native libraries loaded by some commands (gRPC through Ray, torch) keep C++ threads
    that abort with "terminate called without an active exception" during interpreter
    teardown. Exit handlers (Spark, Ray shutdown) still run explicitly; only the native
    teardown that follows them is skipped.
    """
    import atexit
    import logging
    import os

    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
