"""Cluster entry point for training: `ray job submit -- python jobs/train.py --config cluster.yaml`.

Joins the Ray cluster it is submitted to (ray.address "local" becomes "auto" here) and runs the
same function as `codemill train` (training.entry.train) with the same options; anything else
is a `section.key=value` override.
"""

from __future__ import annotations

import sys

from data_platform.job import parse_job_args
from serving.config import CodemillConfig
from training.entry import TrainOptions, summary_lines, train
from training.lineage import LineageError
from training.model import ModelSpecError
from training.trainer import TrainingError


def add_arguments(parser) -> None:
    parser.add_argument("--model", help="tiny, smollm2, a local model directory or a hub id (train.model)")
    parser.add_argument("--max-steps", type=int, help="optimizer steps to reach (train.max_steps)")
    parser.add_argument("--workers", type=int, help="Ray Train workers, one DeepSpeed rank each (train.workers)")
    parser.add_argument("--zero-stage", type=int, help="DeepSpeed ZeRO stage 1, 2 or 3 (train.zero_stage)")
    parser.add_argument("--table-version", type=int, help="gold version to read (default: latest published)")
    parser.add_argument("--allow-unvalidated", action="store_true",
                        help="train on a version that never passed its quality gate (recorded)")
    parser.add_argument("--run-name", help="run name; an existing name resumes from its last checkpoint")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    config, args = parse_job_args(__doc__, add_arguments, argv, job="train", model=CodemillConfig)
    if config.ray.address == "local" and not any(token.startswith("ray.address=") for token in argv):
        config.ray.address = "auto"  # submitted with `ray job submit`: join that cluster
    options = TrainOptions(args.model, args.max_steps, args.workers, args.zero_stage, args.table_version,
                           args.allow_unvalidated, args.run_name)
    try:
        result = train(config, options)
    except (LineageError, TrainingError, ModelSpecError) as err:
        print(str(err).splitlines()[0], file=sys.stderr)
        return 2
    print("\n".join(summary_lines(result)))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
