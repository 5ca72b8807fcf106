"""What every job script under ``jobs/`` needs: arguments, config and a Spark session.

A job is submitted with ``codemill submit jobs/<job>.py …`` (or the spark-submit line it
prints with ``--dry-run``); it accepts ``--config FILE`` and ``section.key=value`` overrides
like the CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from data_platform.config import ConfigError, PlatformConfig, is_override, load_config
from data_platform.ops.logs import attach_lake_run_log, configure_logging


def parse_job_args(
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: list[str] | None = None,
    job: str = "job",
    model: type[PlatformConfig] = PlatformConfig,
) -> tuple[PlatformConfig, argparse.Namespace]:
    """Parse a job's command line like the CLI: ``--config``, ``--verbose``, overrides, own options.

    ``model``: the configuration to load (jobs pass the root, ``serving.config.CodemillConfig``).

    Logging follows the CLI's policy (data_platform.ops.logs): engine logs go to
    ``<lake>/_logs/<job>-….log`` unless ``--verbose``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = [token for token in argv if is_override(token, model)]
    parser = argparse.ArgumentParser(description=description,
                                     epilog="Any section.key=value argument overrides the config.")
    parser.add_argument("--config", help="YAML config file (defaults: the embedded local config)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="Show engine logs (Spark, Ray, DeepSpeed) instead of writing them to the run log")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args([token for token in argv if token not in overrides])
    configure_logging(args.verbose)
    try:
        config = load_config(args.config, overrides, model=model)
    except ConfigError as err:
        parser.exit(2, f"{err}\n")
    if not args.verbose:
        attach_lake_run_log(config.lake, job)
    return config, args
