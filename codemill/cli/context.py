"""State shared by every command of one CLI invocation: config, verbosity, Spark session."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from data_platform.ops.logs import attach_lake_run_log
from data_platform.ops.logs import configure_logging as setup_logging
from serving.config import CodemillConfig, ConfigError, load_config


@dataclass
class CliContext:
    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    verbose: bool = False
    command: str = "codemill"  # names the run log file under the lake
    run_log: Path | None = None  # where engine logs of this invocation go (None: console or none)
    _config: CodemillConfig | None = None
    _spark: object | None = None

    @property
    def config(self) -> CodemillConfig:
        if self._config is None:
            try:
                self._config = load_config(self.config_path, self.overrides)
            except ConfigError as err:
                fail(str(err))
            if not self.verbose:  # engine logs go to a file under the lake instead of the console
                self.run_log = attach_lake_run_log(self._config.lake, self.command)
        return self._config

    def spark(self, names: bool = True):
        """The Spark session, started on first use (takes ~10 s); ``names``: see ``get_spark``."""
        if self._spark is None:
            from data_platform.spark import SparkUnavailableError, get_spark

            try:
                self._spark = get_spark(self.config, verbose=self.verbose, names=names)
            except SparkUnavailableError as err:
                fail(str(err))
        return self._spark


STATE = CliContext()


def fail(message: str, code: int = 2) -> None:
    """Print one clear line to stderr and exit; no traceback for expected problems."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def configure_logging(verbose: bool) -> None:
    """Our warnings on the console always; engine logs only with --verbose (data_platform.ops.logs)."""
    setup_logging(verbose)
