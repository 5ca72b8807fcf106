"""Cluster entry point for training: `ray job submit -- python jobs/train.py --config cluster.yaml`.

Joins the Ray cluster it is submitted to (ray.address "local" becomes "auto" here) and runs the
same code path as `codemill train`. Options mirror the CLI; anything else is a
`section.key=value` override.
"""

from __future__ import annotations

import argparse
import sys

from data_platform.config import ConfigError, is_override, load_config
from training.lineage import LineageError
from training.trainer import TrainingError, run_training


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="YAML config file (lake root on shared storage, train settings)")
    parser.add_argument("--run-name", help="Run name; an existing name resumes from its last checkpoint")
    parser.add_argument("--table-version", type=int, help="Gold version (default: latest published)")
    parser.add_argument("--allow-unvalidated", action="store_true", help="Allow an unpublished version")
    args, rest = parser.parse_known_args(argv)
    unknown = [token for token in rest if not is_override(token)]
    if unknown:
        parser.error(f"unrecognised arguments: {' '.join(unknown)}")
    try:
        config = load_config(args.config, rest)
        if config.ray.address == "local" and not any(token.startswith("ray.address=") for token in rest):
            config.ray.address = "auto"  # submitted with `ray job submit`: join that cluster
        result = run_training(config, args.run_name, args.table_version, args.allow_unvalidated)
    except (ConfigError, LineageError, TrainingError) as err:
        print(str(err).splitlines()[0], file=sys.stderr)
        return 2
    print(f"run id: {result.run_id}")
    print(f"export dir: {result.export_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
