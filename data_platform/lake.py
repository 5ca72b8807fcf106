"""The lakehouse: contract tables as Delta tables under the lake root, and how stages write them.

Stage code addresses tables by path (``config.lake.table_path(name)``), never through the
catalog, so a job writes the same files whichever metastore a session uses; the catalog
names (``bronze.files`` …) exist for people and SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from data_platform import lake_lock
from data_platform.config import PlatformConfig
from data_platform.contracts import TableContract, all_contracts, contract, spark_type
from data_platform.lake_moves import ensure_layout, pending_moves
from data_platform.migrations import (
    TablePlan,
    create_table,
    is_delta_table,
    plan_table,
    upgrade_with_spark,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableInitResult:
    name: str
    path: Path
    created: bool
    added_columns: tuple[str, ...]

    @property
    def state(self) -> str:
        if self.created:
            return "created"
        return f"added columns {', '.join(self.added_columns)}" if self.added_columns else "unchanged"


def delta_path_sql(path: Path | str) -> str:
    """Spark SQL identifier of a Delta table by path: delta.`/lake/bronze/files`."""
    return f"delta.`{path}`"


def upgrade_table(spark, table: TableContract, path: Path, config: PlatformConfig | None = None,
                  plan: TablePlan | None = None) -> TablePlan:
    """Create the table (delta-rs), or bring it up to its contract in place with Spark (see
    data_platform.migrations); ``spark`` may be None when ``plan`` needs no upgrade.

    Raises MigrationRefused (nothing changed) when that would drop or retype a column.
    Returns the plan it carried out.
    """
    plan = plan or plan_table(table, path)
    if plan.current:
        return plan
    if config is not None:  # creating or altering a table is a write: one writer per lake
        lake_lock.hold(config, table.name)
    if not plan.exists:
        create_table(table, path)
        return plan
    return upgrade_with_spark(spark, table, plan)


def register_in_catalog(spark, table: TableContract, path: Path) -> None:
    """Name a lake table in the session's catalog (database created if needed)."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {table.database}")
    rows = spark.sql(f"SHOW TABLES IN {table.database} LIKE '{table.name.split('.')[1]}'").collect()
    if not rows:
        spark.sql(f"CREATE TABLE IF NOT EXISTS {table.name} USING DELTA LOCATION '{path}'")


def register_lake_tables(spark, config: PlatformConfig) -> list[str]:
    """Name in the catalog every contract table that exists in the lake and has no name yet.

    Tables are written by several engines: Spark stages, but also delta-rs (ops.* rows from
    training, evaluation and the quality gate) which knows nothing of the catalog. Called when
    a session starts and before `codemill sql` runs, so any table a command has written answers
    SQL by name. Cheap when everything is named: one SHOW DATABASES and one SHOW TABLES per
    database; only a missing name costs a CREATE TABLE … LOCATION. Returns the names added.
    """
    existing = {name: table for name, table in all_contracts().items() if is_delta_table(config.lake.table_path(name))}
    if not existing:
        return []
    databases = {row[0] for row in spark.sql("SHOW DATABASES").collect()}
    added = []
    for database in sorted({table.database for table in existing.values()}):
        if database not in databases:
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
        named = {row["tableName"] for row in spark.sql(f"SHOW TABLES IN {database}").collect()}
        for name, table in existing.items():
            if table.database != database or name.split(".", 1)[1] in named:
                continue
            try:
                spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION '{config.lake.table_path(name)}'")
                added.append(name)
            except Exception as err:  # one unreadable table must not stop the session or the others
                log.warning("cannot name %s in the catalog: %s", name, str(err).splitlines()[0])
    return added


def init_needs_spark(config: PlatformConfig, names: Iterable[str] | None = None) -> bool:
    """Whether :func:`init_tables` needs a Spark session: a layout step of this release is
    pending, or a table exists with columns its contract gained. Creating tables does not
    (delta-rs); metadata reads only."""
    if pending_moves(config):
        return True
    plans = (plan_table(contract(name), config.lake.table_path(name)) for name in names or all_contracts())
    return any(plan.exists and not plan.current for plan in plans)


def init_tables(spark, config: PlatformConfig, names: Iterable[str] | None = None) -> list[TableInitResult]:
    """Create every contract table (idempotent) and name it in the catalog.

    A second call changes nothing: no table gets a new Delta version unless its contract
    changed since it was written; then it is upgraded in place (new nullable columns added,
    the contract version recorded) or, for a dropped or retyped column, refused.

    ``spark`` may be None when :func:`init_needs_spark` says so: tables are then created
    without a JVM and named in the catalog when the next Spark session starts
    (:func:`register_lake_tables`).
    """
    if spark is not None:
        ensure_layout(spark, config)
    results = []
    for name in names or all_contracts():
        table = contract(name)
        path = config.lake.table_path(name)
        plan = plan_table(table, path)
        if spark is None and plan.exists and not plan.current:
            raise ValueError(f"{name} needs an upgrade, which runs on Spark: pass a session")
        upgrade_table(spark, table, path, config, plan)
        _CURRENT.add((str(path), table.version))
        if spark is not None:
            register_in_catalog(spark, table, path)
        results.append(TableInitResult(name, path, not plan.exists, tuple(c.name for c in plan.add)))
    return results


def plan_lake(config: PlatformConfig, skip: Iterable[str] = ()) -> list[TablePlan]:
    """How every contract table in the lake differs from its contract (metadata reads, no Spark).

    ``skip`` leaves out tables a pending layout step (data_platform.lake_moves) rewrites anyway.
    """
    skipped = set(skip)
    return [plan_table(table, config.lake.table_path(name)) for name, table in all_contracts().items()
            if name not in skipped]


def migrate_lake(spark, config: PlatformConfig, plans: list[TablePlan]) -> list[TablePlan]:
    """Apply the plans that can be applied (create, add columns); refused ones are left untouched.

    Returns the plans applied. Tables are named in the catalog as they are created.
    """
    applied = []
    for plan in plans:
        if plan.current or plan.refused:
            continue
        table = contract(plan.name)
        path = config.lake.table_path(plan.name)
        upgrade_table(spark, table, path, config)
        register_in_catalog(spark, table, path)
        applied.append(plan)
    return applied


# (path, contract version) of tables this process has already created or checked: the check
# is a Delta log read, and read_table/ensure_table run many times per job.
_CURRENT: set[tuple[str, str]] = set()


def ensure_table(spark, config: PlatformConfig, name: str) -> Path:
    """Path of a contract table: created if absent, upgraded in place if an older release made it.

    The first call per table and process compares the table with its contract (one metadata
    read); later calls return at once.
    """
    table = contract(name)
    path = config.lake.table_path(name)
    if (str(path), table.version) not in _CURRENT:
        ensure_layout(spark, config)  # a table moved or split by this release first (data_platform.lake_moves)
        plan = upgrade_table(spark, table, path, config)
        if not plan.exists:
            register_in_catalog(spark, table, path)
        _CURRENT.add((str(path), table.version))
    return path


def conform(df, name: str):
    """Select and cast a DataFrame's columns to the table contract, in contract order.

    Missing nullable columns are filled with nulls; a missing required column is an error
    (it would otherwise surface later as an opaque Delta invariant violation), and so is a
    column the contract lacks (UnknownColumnsError): a write never drops data silently, so
    a stage's working columns are dropped by name before it writes.
    """
    from pyspark.sql import functions as F

    table = contract(name)
    table.check_columns(df.columns)
    present = set(df.columns)
    columns = []
    for column in table.columns:
        target = spark_type(column.type)
        if column.name in present:
            columns.append(F.col(column.name).cast(target).alias(column.name))
        elif column.nullable:
            columns.append(F.lit(None).cast(target).alias(column.name))
        else:
            raise ValueError(f"{name}: DataFrame lacks required column {column.name!r}")
    return df.select(*columns)


def read_table(spark, config: PlatformConfig, name: str, version: int | None = None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(str(ensure_table(spark, config, name)))


def append(spark, config: PlatformConfig, name: str, df) -> int:
    """Append rows conforming to the contract; returns the new table version."""
    path = ensure_table(spark, config, name)
    lake_lock.hold(config, name)
    conform(df, name).write.format("delta").mode("append").save(str(path))
    return table_version(path)


def overwrite(spark, config: PlatformConfig, name: str, df, user_metadata: str | None = None) -> int:
    """Replace the table's rows in one new version (older versions stay readable).

    ``user_metadata`` is stored in the commit (``DESCRIBE HISTORY``'s userMetadata), in the
    same atomic write as the rows: e.g. which input version a derived table was built from.
    """
    path = ensure_table(spark, config, name)
    lake_lock.hold(config, name)
    writer = conform(df, name).write.format("delta").mode("overwrite")
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(str(path))
    return table_version(path)


def merge(spark, config: PlatformConfig, name: str, df, changed_when: str | None = None) -> int:
    """MERGE rows on the contract's keys: insert new keys, update matched rows.

    ``changed_when`` is a SQL condition over ``target`` and ``source`` that limits updates
    to rows that really changed (e.g. ``target.blob_sha <> source.blob_sha``), so re-writing
    unchanged data commits an empty-effect MERGE at most. Returns the table version.
    """
    from delta.tables import DeltaTable

    table = contract(name)
    path = ensure_table(spark, config, name)
    lake_lock.hold(config, name)
    on = " AND ".join(f"target.`{key}` = source.`{key}`" for key in table.keys)
    (
        DeltaTable.forPath(spark, str(path))
        .alias("target")
        .merge(conform(df, name).alias("source"), on)
        .whenMatchedUpdateAll(condition=changed_when)
        .whenNotMatchedInsertAll()
        .execute()
    )
    return table_version(path)


def table_version(path: Path | str) -> int:
    """Latest committed Delta version, read from the log without Spark."""
    from data_platform.storage import delta_table

    return delta_table(path).version()
