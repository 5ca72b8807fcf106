"""Create every contract table in the lake, upgrading older ones in place (idempotent).

    codemill submit jobs/tables_init.py [--config FILE] [section.key=value ...]
"""

from data_platform.job import parse_job_args
from data_platform.lake import init_tables
from data_platform.spark import get_spark
from serving.config import CodemillConfig


def main() -> None:
    config, args = parse_job_args(__doc__, job="tables_init", model=CodemillConfig)
    spark = get_spark(config, verbose=args.verbose)
    for result in init_tables(spark, config):
        print(f"{result.name} {result.state} {result.path}")
    spark.stop()


if __name__ == "__main__":
    main()
