"""The main ingest job: crawl into bronze, curate into silver, refine into gold, gate it.

    codemill submit jobs/ingest.py -- --source PATH_OR_URL [--source ...] [--run-id ID] [--demo]
                                      [--refine] [--curate-only] [--prune-missing]
    spark-submit jobs/ingest.py --config X --source Y        (the line `codemill submit --dry-run` prints)

Thin on purpose: arguments and config, the session, the stages, and exit status 1 when no
source could be read or the new gold version failed its quality gate.
"""

import sys

from data_platform.ingest.demo_corpus import demo_sources
from data_platform.ingest.finish import ingest_stages
from data_platform.ingest.run import main_exit_code, run_ingest
from data_platform.job import parse_job_args
from data_platform.spark import get_spark


def _arguments(parser) -> None:
    parser.add_argument("--source", action="append", default=[], help="source path or URL (repeatable)")
    parser.add_argument("--run-id", help="run id (default: time + random suffix)")
    parser.add_argument("--demo", action="store_true", help="crawl the built-in demo corpus")
    parser.add_argument("--refine", action="store_true", help="rebuild gold even when no file changed")
    parser.add_argument("--curate-only", action="store_true", help="stop after silver (no dedup, gold or gate)")
    parser.add_argument("--prune-missing", action="store_true",
                        help="remove repositories in the lake that are not among this run's sources")


def main() -> int:
    config, args = parse_job_args(__doc__, _arguments)
    sources = args.source or list(config.ingest.sources) or (demo_sources() if args.demo else [])
    if not sources:
        print("no sources: pass --source, set ingest.sources or use --demo", file=sys.stderr)
        return 2
    spark = get_spark(config, verbose=args.verbose)
    try:
        stages = ingest_stages(curate_only=args.curate_only, force_refine=args.refine,
                               prune_missing=args.prune_missing)
        return main_exit_code(run_ingest(spark, config, sources, run_id=args.run_id, stages=stages))
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
