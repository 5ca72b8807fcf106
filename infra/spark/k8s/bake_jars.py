"""Image build step: resolve the Delta Lake jars from Maven Central into Spark's jars folder.

A session started by spark-submit inside a pod cannot add packages any more (the JVM is up
before codemill's code runs), and executors should not each reach Maven: so the jars that
``data_platform.spark.delta_packages()`` names are resolved once, at build time, with Spark's
own Ivy resolution, and copied next to Spark's jars.
"""

import shutil
from pathlib import Path

from pyspark.find_spark_home import _find_spark_home
from pyspark.sql import SparkSession

from data_platform.spark import delta_packages

IVY = Path("/tmp/codemill-ivy")


def main() -> None:
    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.jars.packages", delta_packages())
        .config("spark.jars.ivy", str(IVY))
        .getOrCreate()
    )
    session.stop()
    jars = Path(_find_spark_home()) / "jars"
    resolved = sorted((IVY / "jars").glob("*.jar"))
    if not resolved:
        raise SystemExit(f"no jars resolved for {delta_packages()}")
    for jar in resolved:
        if not (jars / jar.name).exists():
            shutil.copy2(jar, jars / jar.name)
            print(f"added {jar.name}")


if __name__ == "__main__":
    main()
