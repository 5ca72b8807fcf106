"""What every job script under ``jobs/`` needs: arguments, config and a Spark session.

A job is submitted with ``codemill submit jobs/<job>.py …`` (or the spark-submit line it
prints with ``--dry-run``); it accepts ``--config FILE`` and ``section.key=value`` overrides
like the CLI.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from data_platform.config import CodemillConfig, ConfigError, is_override, load_config


def parse_job_args(
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: list[str] | None = None,
) -> tuple[CodemillConfig, argparse.Namespace]:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = [token for token in argv if is_override(token)]
    parser = argparse.ArgumentParser(description=description,
                                     epilog="Any section.key=value argument overrides the config.")
    parser.add_argument("--config", help="YAML config file (defaults: the embedded local config)")
    parser.add_argument("--verbose", action="store_true", help="Show engine logs")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args([token for token in argv if token not in overrides])
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        config = load_config(args.config, overrides)
    except ConfigError as err:
        parser.exit(2, f"{err}\n")
    return config, args
