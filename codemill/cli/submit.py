"""`codemill submit`: run a job script on the configured Spark master with the lake's settings."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import typer

from codemill.cli.context import STATE, fail


def submit(
    script: Path = typer.Argument(..., exists=True, dir_okay=False, help="Job script, e.g. jobs/ingest.py"),
    job_args: list[str] = typer.Argument(None, help="Arguments for the job (after --)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the spark-submit command instead of running it."),
) -> None:
    """Submit a job with spark-submit: master from spark.master, Delta jars, lake settings.

    Example: codemill submit jobs/tables_init.py spark.master=spark://host:7077
    """
    from data_platform.ingest.credentials import HANDOVER_ENV, args_without_credentials
    from data_platform.spark import spark_submit_command

    # The job parses the same overrides; pass them through along with --config.
    passthrough = list(job_args or []) + list(STATE.overrides)
    if STATE.config_path:
        passthrough += ["--config", str(STATE.config_path)]
    # A token in a source URL must not sit on a command line (ps, shell history, this printout).
    passthrough, credentials = args_without_credentials(passthrough)
    command = spark_submit_command(STATE.config, str(script), passthrough)
    if credentials:
        typer.echo(f"credentials of {len(credentials)} source URL(s) were taken off the command line; "
                   f"the job gets them through {HANDOVER_ENV} (driver in client mode only; on a cluster "
                   "use a git credential helper)", err=True)
    if dry_run:
        typer.echo(shlex.join(command))
        return
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    if credentials:
        env[HANDOVER_ENV] = json.dumps(credentials)
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode:
        fail(f"job {script} exited with status {completed.returncode}", code=completed.returncode)


def register(app: typer.Typer) -> None:
    app.command("submit", context_settings={"allow_extra_args": True})(submit)
