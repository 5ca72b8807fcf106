"""Image build step: resolve the Delta Lake jars from Maven Central into Spark's jars folder.

A session started by spark-submit inside a pod cannot add packages any more (the JVM is up
before codemill's code runs), and executors should not each reach Maven: so the jars that
``data_platform.spark.delta_packages()`` names are resolved once, at build time, with Spark's
own Ivy resolution, and copied next to Spark's jars. Transitive dependencies that Spark already
ships (Hadoop client, Jackson, Parquet, log4j …, usually at other versions) are left out: two
versions of one library on the system class path is worse than Spark's own.
"""

import re
import shutil
from pathlib import Path

from pyspark.find_spark_home import _find_spark_home
from pyspark.sql import SparkSession

from data_platform.spark import delta_packages

IVY = Path("/tmp/codemill-ivy")
VERSION = re.compile(r"-\d[\w.\-]*\.jar$")


def artifact(jar_name: str) -> str:
    """Artifact name of a jar file: Ivy's ``group_artifact-1.2.jar`` or Spark's ``artifact-1.2.jar``."""
    name = jar_name.split("_", 1)[1] if "_" in jar_name.split("-", 1)[0] else jar_name
    return VERSION.sub("", name)


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
    shipped = {artifact(jar.name) for jar in jars.glob("*.jar")}
    for jar in resolved:
        if artifact(jar.name) in shipped:
            print(f"kept Spark's own {artifact(jar.name)} (not {jar.name})")
            continue
        shutil.copy2(jar, jars / jar.name)
        print(f"added {jar.name}")


if __name__ == "__main__":
    main()
