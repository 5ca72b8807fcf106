"""The main ingest job: crawl into bronze, curate into silver, refine into gold, gate it.

    codemill submit jobs/ingest.py -- --source PATH_OR_URL [--source ...] [--run-id ID] [--demo]
                                      [--refine] [--curate-only] [--prune-missing]
    spark-submit jobs/ingest.py --config X --source Y        (the line `codemill submit --dry-run` prints)

Thin on purpose: the same options as `codemill ingest`, handed to the same function
(data_platform.ingest.entry.ingest); exit status 1 when no source could be read or the new
gold version failed its quality gate.
"""

import sys

from data_platform.ingest.entry import IngestOptions, NoSourcesError, ingest
from data_platform.job import parse_job_args
from data_platform.spark import get_spark
from serving.config import CodemillConfig


def add_arguments(parser) -> None:
    parser.add_argument("--source", action="append", default=[], help="source path or URL (repeatable)")
    parser.add_argument("--run-id", help="run id (default: kind, time and a random suffix)")
    parser.add_argument("--demo", action="store_true", help="also crawl the built-in demo corpus")
    parser.add_argument("--refine", action="store_true", help="rebuild gold even when no file changed")
    parser.add_argument("--curate-only", action="store_true", help="stop after silver (no dedup, gold or gate)")
    parser.add_argument("--prune-missing", action="store_true",
                        help="remove repositories in the lake that are not among this run's sources")


def main(argv: list[str] | None = None) -> int:
    config, args = parse_job_args(__doc__, add_arguments, argv, job="ingest", model=CodemillConfig)
    options = IngestOptions(args.source, args.run_id, args.demo, args.refine, args.curate_only, args.prune_missing)
    started = []

    def start_spark():
        started.append(get_spark(config, verbose=args.verbose, names=False))  # tables by path, as the CLI's
        return started[0]

    try:
        return ingest(start_spark, config, options)
    except NoSourcesError as err:
        print(err, file=sys.stderr)
        return 2
    finally:
        for spark in started:
            spark.stop()


if __name__ == "__main__":
    sys.exit(main())
