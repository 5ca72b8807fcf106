"""State shared by every command of one CLI invocation: config, verbosity, Spark session."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import typer

from data_platform.config import CodemillConfig, ConfigError, load_config


@dataclass
class CliContext:
    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    verbose: bool = False
    _config: CodemillConfig | None = None
    _spark: object | None = None

    @property
    def config(self) -> CodemillConfig:
        if self._config is None:
            try:
                self._config = load_config(self.config_path, self.overrides)
            except ConfigError as err:
                fail(str(err))
        return self._config

    def spark(self):
        """The Spark session, started on first use (takes ~10 s)."""
        if self._spark is None:
            from data_platform.spark import SparkUnavailableError, get_spark

            try:
                self._spark = get_spark(self.config, verbose=self.verbose)
            except SparkUnavailableError as err:
                fail(str(err))
        return self._spark


STATE = CliContext()


def fail(message: str, code: int = 2) -> None:
    """Print one clear line to stderr and exit; no traceback for expected problems."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Engines' own Python loggers are chatty at INFO; keep them at WARNING unless asked.
    for noisy in ("py4j", "ray", "great_expectations", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    # PySpark logs every failed query as a JSON record with the JVM stack trace before
    # raising; the CLI prints the error itself, in one line.
    for query_logger in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(query_logger).setLevel(logging.DEBUG if verbose else logging.CRITICAL)
