"""Deletions: files gone upstream leave the lake, and (on request) repositories no longer crawled.

A repository's rows in bronze.files (and bronze.file_contents), silver.files and silver.functions mirror its latest
crawled snapshot. When a source is crawled at a new snapshot (a newer commit, a directory
whose listing changed), every path of that repository the new snapshot no longer holds is
deleted from those tables; the next gold version is rebuilt without it, and Delta time travel
still shows it in older versions.

A path the snapshot still names but could not read this time (a missing git object, an
unreadable directory) is not a deletion: its last good version stays until a crawl reads or
drops it. Dataset sources name repositories per row and are never pruned per file.

Documentation trees and Stack Exchange dumps hold records their reader makes (a page's
sections, a dump's threads), not the entries it lists, so their snapshot is what this crawl
read: a section gone from a page that is still there, or a thread gone from a newer dump,
leaves like a deleted file (decision 0195). A page that could not be read this time keeps its
sections; a dump or tree with an unreadable part (a dump that stops mid-file, a failed read
task) is not pruned at all in that run.

``--prune-missing`` goes further: repositories in the lake that are not among this run's
sources are removed from bronze.repos and the three file tables. It refuses to act when any
source of the run could not be read (an unreachable source is not a deleted one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from data_platform import lake
from data_platform.ingest import errors as E
from data_platform.ingest.sources import Listing

# Errors that say "this path exists but could not be read now", not "this path is gone".
TRANSIENT_KINDS = frozenset({E.MISSING_OBJECT, E.UNREADABLE})
# Dependants first; bronze.file_contents before bronze.files, whose rows tell a rerun what is gone.
FILE_TABLES = ("silver.functions", "silver.doc_sections", "silver.qa_threads", "silver.files", "bronze.file_contents",
               "bronze.files")
MAX_PREFIXES = 200
# Sources whose rows are records the reader makes from its entries (sections, threads).
RECORD_KINDS = frozenset({"docs", "stackexchange"})


@dataclass
class Snapshot:
    """What one crawled snapshot holds: paths present, and folders it could not list."""

    repo_id: str
    paths: set[str] = field(default_factory=set)
    kept_prefixes: list[str] = field(default_factory=list)  # "dir/" ("" keeps everything)
    records: bool = False  # docs trees and dumps: present = the records this crawl read, not the listing


def snapshot_of(listing: Listing) -> Snapshot:
    """Paths of a listing that must stay in the lake: entries, and paths unreadable for now."""
    snapshot = Snapshot(listing.info.repo_id, {entry.path for entry in listing.entries},
                        records=listing.info.kind in RECORD_KINDS)
    for error in listing.errors:
        if error.kind not in TRANSIENT_KINDS:
            continue  # a link, a submodule, an oversized file: no longer a file we keep
        folder = error.path.strip("/")
        if error.path.endswith("/") or not folder:  # a folder (or the root) that could not be listed
            snapshot.kept_prefixes.append(folder + "/" if folder else "")
        else:
            snapshot.paths.add(error.path)
    return snapshot


def prunable_snapshots(listings: Iterable[Listing]) -> list[Snapshot]:
    """Snapshots whose deletions can be applied: per-file sources, not hopelessly unlistable."""
    snapshots = []
    for listing in listings:
        if listing.per_row_repos:
            continue
        snapshot = snapshot_of(listing)
        if "" in snapshot.kept_prefixes or len(snapshot.kept_prefixes) > MAX_PREFIXES:
            continue  # the root (or too much of it) could not be listed: delete nothing
        snapshots.append(snapshot)
    return snapshots


def _known_rows(spark, config, repo_ids: list[str]):
    """(repo_id, path) of these repositories in bronze.files or silver.files."""
    from pyspark.sql import functions as F

    known = None
    for table in ("bronze.files", "silver.files"):
        rows = lake.read_table(spark, config, table).where(F.col("repo_id").isin(repo_ids)).select("repo_id", "path")
        known = rows if known is None else known.unionByName(rows)
    return known.distinct()


def _gone_records(known, crawled, crawl_errors):
    """Rows of record sources (``known`` is cut to them) that this crawl did not read again.

    A section whose page failed to read this time stays ("page" = the path before '#'; a
    thread's path has none), and so does every row of a source with an unreadable part."""
    from pyspark.sql import functions as F

    page = F.substring_index("path", "#", 1)
    read = crawled.select("repo_id", "path")
    failed_pages = crawl_errors.select("repo_id", page.alias("page"))
    incomplete = crawl_errors.where(F.col("error_kind").isin(sorted(TRANSIENT_KINDS)) | (F.col("path") == ""))
    return (known.join(read, ["repo_id", "path"], "left_anti")
            .withColumn("page", page).join(failed_pages, ["repo_id", "page"], "left_anti").drop("page")
            .join(incomplete.select("repo_id"), "repo_id", "left_anti"))


def _gone_rows(spark, config, snapshots: list[Snapshot], crawled=None, crawl_errors=None):
    """(repo_id, path) rows of the file tables that the new snapshots no longer hold.

    ``crawled`` and ``crawl_errors`` ((repo_id, path[, error_kind]) of this run's crawl) are
    the snapshot of record sources; listed sources compare with their listing."""
    from pyspark.sql import functions as F

    listed_ids = [s.repo_id for s in snapshots if not s.records]
    record_ids = [s.repo_id for s in snapshots if s.records]
    present = spark.createDataFrame(
        [(s.repo_id, path) for s in snapshots if not s.records for path in sorted(s.paths)],
        "repo_id STRING, path STRING")
    known = _known_rows(spark, config, listed_ids + record_ids)
    gone = known.where(F.col("repo_id").isin(listed_ids or [""])).join(present, ["repo_id", "path"], "left_anti")
    if record_ids and crawled is not None and crawl_errors is not None:
        gone = gone.unionByName(_gone_records(known.where(F.col("repo_id").isin(record_ids)), crawled, crawl_errors))
    for snapshot in snapshots:
        for prefix in snapshot.kept_prefixes:
            gone = gone.where(~((F.col("repo_id") == snapshot.repo_id) & F.col("path").startswith(prefix)))
    return gone


def _delete_matching(spark, config, table: str, keys, on: str) -> int:
    """Delete the rows of ``table`` matching ``keys`` in one MERGE; returns the new version."""
    from delta.tables import DeltaTable

    path = lake.ensure_table(spark, config, table)
    DeltaTable.forPath(spark, str(path)).alias("target").merge(keys.alias("source"), on).whenMatchedDelete().execute()
    return lake.table_version(path)


def _holds_rows_of(config, table: str, repo_ids: list[str]) -> bool:
    """Whether ``table`` has any row of these repositories (delta-rs, file statistics prune the scan)."""
    import pyarrow.dataset as pads

    from data_platform.storage import delta_table

    path = config.lake.table_path(table)
    if not lake.is_delta_table(path):
        return False
    dataset = delta_table(str(path)).to_pyarrow_dataset()
    return dataset.head(1, columns=["repo_id"], filter=pads.field("repo_id").isin(repo_ids)).num_rows > 0


def delete_gone_files(ctx, snapshots: list[Snapshot], crawled=None, crawl_errors=None) -> int:
    """Delete files the new snapshots lost from the file tables; returns how many paths went.

    ``crawled``/``crawl_errors``: what this run's crawl read and could not read (record sources)."""
    repo_ids = sorted({s.repo_id for s in snapshots})
    if not repo_ids or not any(_holds_rows_of(ctx.config, t, repo_ids) for t in ("bronze.files", "silver.files")):
        return 0  # first crawl of these repositories: nothing to compare with, no Spark job
    gone = ctx.materialize(_gone_rows(ctx.spark, ctx.config, snapshots, crawled, crawl_errors))
    count = gone.count()
    if count:
        on = "target.repo_id = source.repo_id AND target.path = source.path"
        for table in FILE_TABLES:
            ctx.wrote(table, _delete_matching(ctx.spark, ctx.config, table, gone, on))
    return count


def delete_missing_repos(ctx, present_repo_ids) -> int:
    """--prune-missing: delete every repository not in ``present_repo_ids`` (a one-column DataFrame)."""
    from pyspark.sql import functions as F

    in_lake = lake.read_table(ctx.spark, ctx.config, "bronze.repos").select("repo_id")
    for table in ("bronze.files", "silver.files"):
        in_lake = in_lake.unionByName(lake.read_table(ctx.spark, ctx.config, table).select("repo_id"))
    missing = ctx.materialize(in_lake.distinct().join(present_repo_ids.distinct(), "repo_id", "left_anti"))
    count = missing.count()
    if count:
        names = [row["repo_id"] for row in missing.limit(5).collect()]
        ctx.progress("prune", f"--prune-missing: removing {count} repositories not among this run's sources "
                              f"(e.g. {', '.join(names)})")
        for table in (*FILE_TABLES, "bronze.repos"):
            ctx.wrote(table, _delete_matching(ctx.spark, ctx.config, table, missing.select(F.col("repo_id")),
                                              "target.repo_id = source.repo_id"))
    return count
