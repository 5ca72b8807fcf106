"""Spark session factory: Delta Lake jars and catalog, the lake's metastore, quiet logs.

Every job and CLI command gets its session from :func:`get_spark`, so the same code runs
on ``local[*]`` or a cluster by changing ``spark.master`` in the config.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from data_platform.config import PlatformConfig
from data_platform.lake import register_lake_tables
from data_platform.storage import spark_conf

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
_METASTORE_LOCKED = ("Another instance of Derby", "Failed to start database", "XSDB6")


class SparkUnavailableError(RuntimeError):
    """Spark could not start (no Java, bad master, jars unresolvable)."""


def _check_java() -> None:
    import shutil

    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    if not java or not Path(java).exists():
        raise SparkUnavailableError(
            "Java 17 is required for Spark but no `java` was found. Install it "
            "(Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME."
        )


def _base_conf(config: PlatformConfig, catalog: str) -> dict[str, str]:
    lake = config.lake
    spark = config.spark
    lake.metastore_dir.mkdir(parents=True, exist_ok=True)
    conf = {
        "spark.master": spark.master,
        "spark.app.name": spark.app_name,
        "spark.driver.memory": spark.driver_memory,
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.catalogImplementation": catalog,
        "spark.sql.warehouse.dir": str(lake.warehouse_dir),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Executors talk to their Python workers over Unix sockets, not loopback TCP: over TCP
        # each Python task sat ~50 ms with both ends waiting on the socket (16 one-row tasks on
        # local[2]: 0.48 s over TCP, 0.24 s over Unix sockets, measured here).
        "spark.python.unix.domain.socket.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        # Ray Data refuses deletion vectors and delta-rs readers vary: keep tables plain.
        "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
        # Executors must use the interpreter that has codemill's packages.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={lake.metastore_dir}",
    }
    if spark.master.startswith("local"):
        # Delta reads its log into 50 partitions by default: on a laptop that costs more
        # than the tables (28-40 s vs 3-4 s to cache a small gold version, measured here).
        conf["spark.databricks.delta.snapshotPartitions"] = "2"
    if catalog == "hive":
        if lake.metastore == "embedded":
            url = f"jdbc:derby:;databaseName={lake.metastore_dir / 'metastore_db'};create=true"
            conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = url
        else:
            conf["spark.hadoop.hive.metastore.uris"] = lake.metastore
    # An object-store lake: S3A settings from the environment and lake.storage_options. The
    # catalog (Derby) and warehouse stay in this machine's cache folder (LakeSettings.local_dir):
    # a metastore cannot live on s3://, and every table is named from the lake at session start.
    conf.update(spark_conf(lake.root, _effective(lake)))
    conf.update(spark.conf)
    return conf


def _set_lake_secrets(session, config: PlatformConfig) -> None:
    """Object-store keys go on the running session's Hadoop configuration, not on the JVM's command
    line (where spark-submit puts launch settings, readable by any local user through ``ps``).
    Jobs read and write through this configuration; executors get it with their tasks."""
    from data_platform.storage import spark_secrets

    hadoop = session.sparkContext._jsc.hadoopConfiguration()
    for key, value in spark_secrets(config.lake.root, _effective(config.lake)).items():
        hadoop.set(key, value)


def _effective(lake) -> dict[str, str] | None:
    from data_platform.storage import effective_options

    return effective_options(lake.root) if lake.remote else None


@contextlib.contextmanager
def _jvm_output_to(log_file: Path | None):
    """Send the JVM's stdout/stderr (Ivy resolution, log4j) to a file unless verbose.

    The JVM is a child process that inherits file descriptors 1 and 2 at launch, so
    redirecting them around the launch quiets it for the rest of its life while
    Python's own output is restored afterwards.
    """
    if log_file is None:
        yield
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_file, "ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _build(config: PlatformConfig, catalog: str, verbose: bool):
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in _base_conf(config, catalog).items():
        builder = builder.config(key, value)
    builder = configure_spark_with_delta_pip(builder, extra_packages=extra_packages(config))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log_file = None if verbose else config.lake.local_dir / "_logs" / "spark-driver.log"
    with _jvm_output_to(log_file):
        session = builder.getOrCreate()
    _set_lake_secrets(session, config)
    session.sparkContext.setLogLevel("INFO" if verbose else config.spark.log_level)
    return session


def start_session(config: PlatformConfig, catalog: str = "in-memory", verbose: bool = False):
    """A session with exactly ``config``'s settings and no table named yet (the SQL server names its own)."""
    _check_java()
    try:
        return _build(config, catalog, verbose)
    except Exception as err:  # py4j and JVM launch errors carry no useful type
        raise SparkUnavailableError(f"Spark failed to start: {str(err).splitlines()[0]}") from err


def get_spark(config: PlatformConfig, verbose: bool = False, names: bool = True):
    """Start (or reuse) the Spark session described by ``config``.

    Every contract table the lake holds is named in the catalog on start, whichever engine
    wrote it (:func:`data_platform.lake.register_lake_tables`). The embedded Derby metastore
    allows one process at a time. When another codemill process holds it, this session
    falls back to an in-memory catalog, in which the same registration names every table.

    ``names=False`` is for a job that reads and writes tables by path (the ingest): with the
    embedded metastore it starts on an in-memory catalog and names nothing. Booting Derby
    (~5 s) and naming the tables of a new lake (~11 s, 21 tables) took over half of the
    demo ingest's 28 s start, for names no one used; the next session that answers SQL names
    them, and the Derby lock stays free for it meanwhile. A shared metastore is written as
    always: other users' tools read the names there.
    """
    _check_java()
    catalog = "in-memory" if not names and config.lake.metastore == "embedded" else "hive"
    try:
        session = _build(config, catalog, verbose)
    except Exception as err:  # py4j and JVM launch errors carry no useful type
        raise SparkUnavailableError(f"Spark failed to start: {str(err).splitlines()[0]}") from err
    if catalog == "in-memory":
        return session
    if config.lake.metastore != "embedded":
        register_lake_tables(session, config)
        return session
    try:
        session.sql("SHOW DATABASES").collect()
        register_lake_tables(session, config)
        return session
    except Exception as err:
        # Hive wraps Derby's "already booted" error in a generic client-instantiation
        # failure; Derby's lock file says whether another process holds the database.
        lock_held = (config.lake.metastore_dir / "metastore_db" / "db.lck").exists()
        if not (lock_held or any(marker in str(err) for marker in _METASTORE_LOCKED)):
            raise
    log.warning("metastore at %s is in use by another process; using a temporary catalog", config.lake.metastore_dir)
    session.stop()
    session = _build(config, "in-memory", verbose)
    register_lake_tables(session, config)
    return session


def spark_ui_url(session) -> str | None:
    return session.sparkContext.uiWebUrl


def delta_packages(config: PlatformConfig | None = None) -> str:
    """Maven coordinates of the Delta Lake jars matching the installed delta-spark/pyspark
    (plus hadoop-aws when ``config``'s lake is on S3)."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    # Builder objects are inert until getOrCreate(); this one only collects the setting.
    builder = configure_spark_with_delta_pip(SparkSession.Builder(), extra_packages=extra_packages(config))
    return builder._options["spark.jars.packages"]


def hadoop_version() -> str:
    """The Hadoop version pyspark bundles (from its ``hadoop-client-api-<version>.jar``)."""
    from pyspark.find_spark_home import _find_spark_home

    jars = sorted(Path(_find_spark_home(), "jars").glob("hadoop-client-api-*.jar"))
    if not jars:
        raise SparkUnavailableError("pyspark ships no hadoop-client-api jar: cannot pick a hadoop-aws version")
    return jars[-1].name[len("hadoop-client-api-"):-len(".jar")]


def s3_packages() -> list[str]:
    """hadoop-aws at pyspark's Hadoop version; Ivy brings its AWS SDK bundle (~690 MB, cached once)
    and the other compile dependencies its POM names."""
    return [f"org.apache.hadoop:hadoop-aws:{hadoop_version()}"]


def extra_packages(config: PlatformConfig | None) -> list[str]:
    """Jars beyond Delta's: the S3A connector only when the lake is on S3 (it is large), and any
    ``spark.jars.packages`` of ``spark.conf`` (e.g. the GCS or ABFS connector for gs:// or abfss://
    lakes), which Delta's helper would otherwise replace."""
    if config is None:
        return []
    root = str(config.lake.root)
    extra = s3_packages() if root.startswith(("s3://", "s3a://")) else []
    configured = config.spark.conf.get("spark.jars.packages", "")
    return extra + [item.strip() for item in configured.split(",") if item.strip()]


def spark_submit_command(config: PlatformConfig, script: str, script_args: list[str]) -> list[str]:
    """The spark-submit command line that runs a job script with the lake's settings.

    Jobs started by spark-submit join a JVM that already exists, so the Delta jars and
    the session's static settings must be given on the command line, not in the builder.
    """
    from pyspark.find_spark_home import _find_spark_home

    command = [
        str(Path(_find_spark_home()) / "bin" / "spark-submit"),
        "--master", config.spark.master,
        "--packages", delta_packages(config),
    ]
    for key, value in _base_conf(config, "hive").items():
        if key not in ("spark.master",):
            command += ["--conf", f"{key}={value}"]
    return [*command, script, *script_args]


def delta_jars_cached() -> bool:
    """True when the Delta jars for this delta-spark are already in the Ivy cache."""
    _, artifact, version = delta_packages().split(",")[0].split(":")
    return any(Path.home().glob(f".ivy2*/jars/io.delta_{artifact}-{version}.jar"))


def resolve_s3_jars() -> None:
    """Fetch hadoop-aws and its AWS SDK bundle into the Ivy cache (bootstrap; ~700 MB once).

    A bare local session with only the packages set: nothing of a lake is touched.
    """
    from pyspark.sql import SparkSession

    _check_java()
    session = SparkSession.builder.master("local[1]").config("spark.jars.packages", ",".join(s3_packages())).getOrCreate()
    session.stop()


def s3_jars_cached() -> bool:
    """True when hadoop-aws for pyspark's Hadoop is already in the Ivy cache."""
    return any(Path.home().glob(f".ivy2*/jars/org.apache.hadoop_hadoop-aws-{hadoop_version()}.jar"))
