"""Lake layout changes that move data between tables or paths, done in place and never losing a row.

Column upgrades (data_platform.migrations) cannot express these, so they are steps of their
own, applied before any table is compared with its contract: by ``codemill tables migrate``
and by the first Spark write of a process (``lake.ensure_table``). Each step is idempotent
and safe to rerun after a crash at any point (docs/decisions/0136-restricted-prefix.md):

* **relocate**: a restricted table made before the restricted prefix existed
  (``<lake>/gold/quarantine``) is renamed to ``<lake>/restricted/gold/quarantine``. A Delta
  table's log names its data files relative to the table directory, so a directory rename
  moves the whole table with its history; the catalog name is pointed at the new location.
* **split**: bronze.files of a release that kept raw ``content`` next to the metadata. The
  content (with file_id, repo_id, path, blob_sha, run_id, crawled_at) is copied into
  bronze.file_contents under the restricted prefix, the row counts are compared, then
  bronze.files is rewritten without the column (``overwriteSchema``) and vacuumed with
  ``lake.purge_retention_hours``: older versions of bronze.files hold the raw bytes in an
  unrestricted directory, so they must go. A crash before the rewrite leaves bronze.files
  with its content and the step pending; the rerun overwrites bronze.file_contents again.

Detecting what is pending reads Delta logs only (no Spark), so ``--dry-run`` can list it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from data_platform.config import PlatformConfig
from data_platform.contracts import all_contracts, contract, spark_type
from data_platform.migrations import VERSION_PROPERTY, MigrationRefused, create_table, is_delta_table
from data_platform.storage import delta_table

log = logging.getLogger(__name__)

CONTENTS_TABLE = "bronze.file_contents"
SPLIT_COLUMN = "content"  # the column bronze.files gave up to CONTENTS_TABLE


@dataclass(frozen=True)
class Move:
    """One pending layout step: ``relocate`` a table directory or ``split`` content out of bronze.files."""

    table: str
    kind: str
    source: Path
    target: Path

    def describe(self) -> str:
        if self.kind == "relocate":
            return f"move table {self.source} -> {self.target} (restricted prefix)"
        return (f"copy column {SPLIT_COLUMN} into {CONTENTS_TABLE} at {self.target}, then rewrite {self.table} "
                "without it and vacuum its older versions")


def file_id_column():
    """file_id of a (repo_id, path) row as Spark computes it: sha1(repo_id NUL path), as
    data_platform.ingest.curate.file_id_for does in Python (tests/integration/test_ingest_pipeline.py
    and test_lake_restricted_split.py check they agree)."""
    from pyspark.sql import functions as F

    return F.sha1(F.concat_ws("\u0000", F.col("repo_id"), F.col("path")).cast("binary"))


def _columns(path: Path) -> list[str]:
    return list(delta_table(path).schema().to_arrow().names)


def pending_moves(config: PlatformConfig) -> list[Move]:
    """The layout steps this lake still needs (metadata reads only); refuses an ambiguous layout."""
    lake = config.lake
    moves = []
    for name, table in all_contracts().items():
        legacy, target = lake.legacy_table_path(name), lake.table_path(name)
        if table.restricted and legacy != target and is_delta_table(legacy):
            if is_delta_table(target):
                raise MigrationRefused(
                    f"{name} exists twice: at {legacy} (layout before the restricted prefix) and at {target}. "
                    "Nothing was changed; keep one (move the other out of the lake) and rerun.")
            moves.append(Move(name, "relocate", legacy, target))
    files = lake.table_path("bronze.files")
    if is_delta_table(files) and SPLIT_COLUMN in _columns(files):
        moves.append(Move("bronze.files", "split", files, lake.table_path(CONTENTS_TABLE)))
    return moves


def apply_moves(spark, config: PlatformConfig, moves: list[Move]) -> list[Move]:
    """Carry out the pending steps in order (relocations first); returns those applied."""
    for move in sorted(moves, key=lambda m: m.kind != "relocate"):
        if move.kind == "relocate":
            _relocate(spark, move)
        else:
            _split(spark, config, move)
        log.warning("lake layout: %s: %s", move.table, move.describe())
    return moves


def _relocate(spark, move: Move) -> None:
    # A catalog name pointing at the old directory is dropped (the table is external: the files
    # stay) and given again at the new place; a name pointing elsewhere is not this lake's.
    named_here = _catalog_location(spark, move.table) == move.source
    if named_here:
        spark.sql(f"DROP TABLE IF EXISTS {move.table}")
    move.target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(move.source, move.target)
    if named_here:
        spark.sql(f"CREATE TABLE IF NOT EXISTS {move.table} USING DELTA LOCATION '{move.target}'")


def _catalog_location(spark, name: str) -> Path | None:
    """Where the session's catalog says a table is, or None when it has no such name."""
    from urllib.parse import unquote, urlparse

    database, table = name.split(".", 1)
    if not any(row[0] == database for row in spark.sql("SHOW DATABASES").collect()):
        return None
    if not spark.sql(f"SHOW TABLES IN {database} LIKE '{table}'").collect():
        return None
    try:
        location = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
    except Exception:  # a name whose files are gone or unreadable: not ours to judge
        return None
    return Path(unquote(urlparse(location).path)).resolve() if location else None


def _conformed(df, name: str):
    table = contract(name)
    return df.select(*(df[c.name].cast(spark_type(c.type)).alias(c.name) for c in table.columns))


def _split(spark, config: PlatformConfig, move: Move) -> None:

    version = delta_table(move.source).version()
    # Pinned to one version: the rewrite below must not change what this step reads.
    old = spark.read.format("delta").option("versionAsOf", version).load(str(move.source))
    rows = old.count()
    if not is_delta_table(move.target):
        create_table(contract(CONTENTS_TABLE), move.target)
    contents = _conformed(old.withColumn("file_id", file_id_column()), CONTENTS_TABLE)
    contents.write.format("delta").mode("overwrite").save(str(move.target))
    copied = spark.read.format("delta").load(str(move.target)).count()
    if copied != rows:
        raise MigrationRefused(f"{CONTENTS_TABLE} holds {copied} rows after the copy but bronze.files {rows}: "
                               "bronze.files was not rewritten (its content is intact); rerun the migration")
    metadata = _conformed(old, "bronze.files")
    metadata.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(str(move.source))
    spark.sql(f"ALTER TABLE delta.`{move.source}` SET TBLPROPERTIES "
              f"('{VERSION_PROPERTY}' = '{contract('bronze.files').version}')")
    _vacuum(spark, move.source, config.lake.purge_retention_hours)


def _vacuum(spark, path: Path, retention_hours: int) -> None:
    """Delete data files only older versions use: those of bronze.files hold raw content."""
    from data_platform.vacuum import vacuum_now

    vacuum_now(spark, f"delta.`{path}`", retention_hours)


# Lake roots whose layout this process has already brought up to date (see lake.ensure_table).
_DONE: set[str] = set()


def ensure_layout(spark, config: PlatformConfig) -> None:
    """Apply pending steps once per process and lake: before a job's first table check."""
    root = str(config.lake.root)
    if root in _DONE:
        return
    _DONE.add(root)  # first, so the writes below (which create tables) do not come back here
    try:
        apply_moves(spark, config, pending_moves(config))
    except BaseException:
        _DONE.discard(root)
        raise
