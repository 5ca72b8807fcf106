"""A job for the standalone-cluster test: executors compute rows, the driver commits Delta."""

from data_platform.job import parse_job_args
from data_platform.spark import get_spark


def add_arguments(parser):
    parser.add_argument("--table", required=True, help="Delta table path to write")
    parser.add_argument("--rows", type=int, default=1000)


def main():
    config, args = parse_job_args(__doc__, add_arguments)
    spark = get_spark(config)
    df = spark.range(args.rows, numPartitions=4).selectExpr("id", "id * id AS square")
    df.write.format("delta").mode("overwrite").save(args.table)
    print(f"master={spark.sparkContext.master} rows={args.rows}")
    spark.stop()


if __name__ == "__main__":
    main()
