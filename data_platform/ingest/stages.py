"""The ingest stages: list sources, crawl them into bronze, curate changed files into silver.

Each stage is a small object with ``name`` and ``run(ctx)``; see :mod:`data_platform.ingest.run`.
What a stage leaves for later ones is a field of ``ctx.state``
(:class:`data_platform.ingest.context.StageOutputs`), commented with the stage that sets it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from data_platform import lake
from data_platform.contracts import contract
from data_platform.ingest import errors as E
from data_platform.ingest.context import RunContext, Stage, rate
from data_platform.ingest.crawl import CRAWL_WORKING_COLUMNS, crawled_dataframe
from data_platform.ingest.curate import DOCS, QA, SILVER_COLUMNS, CurateLimits, curated_dataframe
from data_platform.ingest.sources import Limits, Listing, list_source
from data_platform.ingest.task_plan import plan_from_settings
from data_platform.licenses import detect_license, license_class
from data_platform.ops.crashpoints import crash_point


def limits_of(ctx: RunContext) -> Limits:
    ingest = ctx.config.ingest
    return Limits(ingest.max_file_bytes, ingest.archive_max_total_bytes, ingest.archive_max_ratio)


def unseen(ctx: RunContext, files, table: str):
    """Crawled files whose (repo_id, path, blob_sha) ``table`` does not hold yet.

    The table's keys are cut to this run's repositories and broadcast, so the crawled side
    keeps its partitioning (one crawl task per partition): a shuffle here would let adaptive
    execution coalesce the few, byte-heavy partitions into one and curate on a single core.
    """
    from pyspark.sql import functions as F

    repo_ids = sorted(ctx.state.repo_ids)
    keys = lake.read_table(ctx.spark, ctx.config, table).select("repo_id", "path", "blob_sha")
    if repo_ids and not ctx.state.per_row_repos:
        keys = keys.where(F.col("repo_id").isin(repo_ids))
    return files.join(F.broadcast(keys), ["repo_id", "path", "blob_sha"], "left_anti")


def known_snapshots(ctx: RunContext, repo_ids: set[str]) -> set[tuple[str, str]]:
    """(repo_id, commit_sha) already in bronze.repos, read with delta-rs: no Spark job for a small table."""
    import pyarrow.compute as pc

    from data_platform.storage import delta_table

    path = ctx.config.lake.table_path("bronze.repos")
    if not repo_ids or not lake.is_delta_table(path):
        return set()
    rows = delta_table(str(path)).to_pyarrow_dataset().to_table(
        columns=["repo_id", "commit_sha"], filter=pc.field("repo_id").isin(sorted(repo_ids)))
    return set(zip(rows.column("repo_id").to_pylist(), rows.column("commit_sha").to_pylist(), strict=True))


def _with_qa_filters(ctx: RunContext, listing: Listing) -> None:
    from data_platform.ingest.qa_posts import QaFilters
    from data_platform.ingest.sources.stackexchange import with_filters

    qa = ctx.config.ingest.qa
    with_filters(listing, QaFilters(qa.min_score, qa.accepted_only, tuple(qa.tags), qa.top_answers))


class ListSources:
    """Driver: identify and list each source (metadata only); unusable sources become errors."""

    name = "list"
    reads = ()
    writes = ("listings", "licenses", "repo_ids", "listed_repo_ids", "dataset_specs", "per_row_repos",
              "purge_policy")

    def run(self, ctx: RunContext) -> None:
        listings: list[Listing] = []
        licenses: dict[str, str | None] = {}
        seen: set[str] = set()
        for spec in ctx.sources:
            if spec in seen:
                continue
            seen.add(spec)
            started = time.perf_counter()
            try:
                listing = list_source(spec, limits_of(ctx), ctx.config.ingest.git_ref, ctx.config.ingest.cache_dir)
            except E.SourceError as err:
                ctx.source_failed(spec, err.kind, err.message)
                ctx.progress(self.name, f"{spec}: FAILED ({err.kind}: {err.message})")
                continue
            except Exception as err:  # an unexpected reader failure costs this source only
                ctx.source_failed(spec, E.UNREADABLE, f"{type(err).__name__}: {err}")
                ctx.progress(self.name, f"{spec}: FAILED ({type(err).__name__}: {err})")
                continue
            if self._purged(ctx, listing):
                continue
            if listing.info.kind == "stackexchange":  # the reader runs on executors: the filters travel with it
                _with_qa_filters(ctx, listing)
            ctx.record_errors(listing.errors)
            if not listing.per_row_repos:
                found = listing.declared_license or detect_license(listing.license_files).spdx_id
                licenses[listing.info.repo_id] = found
            listings.append(listing)
            elapsed = time.perf_counter() - started
            ctx.progress(self.name, f"{spec}: {listing.info.kind}, {len(listing.entries):,} entries, "
                                    f"{len(listing.errors)} skipped, license {licenses.get(listing.info.repo_id)}, "
                                    f"{elapsed:.1f}s")
        known = known_snapshots(ctx, {listing.info.repo_id for listing in listings})
        unchanged = [item for item in listings
                     if not item.per_row_repos and (item.info.repo_id, item.info.commit_sha) in known]
        for listing in unchanged:
            ctx.progress(self.name, f"{listing.info.spec}: unchanged since snapshot {listing.info.commit_sha[:12]}, "
                                    "skipped")
        listings = [listing for listing in listings if listing not in unchanged]
        ctx.count("list.unchanged_sources", len(unchanged))
        ctx.state.listings = listings
        ctx.state.licenses = licenses
        ctx.state.repo_ids = {listing.info.repo_id for listing in listings}
        # Every repository named by this run's sources, changed or not (--prune-missing keeps these).
        ctx.state.listed_repo_ids = {item.info.repo_id for item in [*listings, *unchanged]
                                        if not item.per_row_repos}
        ctx.state.dataset_specs = [item.info.spec for item in listings if item.per_row_repos]
        ctx.state.per_row_repos = any(listing.per_row_repos for listing in listings)
        ctx.count("list.sources", len(listings) + len(unchanged))
        ctx.count("list.entries", sum(len(listing.entries) for listing in [*listings, *unchanged]))


    @staticmethod
    def _purged(ctx: RunContext, listing: Listing) -> bool:
        """Skip a purged repository (one ops.ingest_errors row); drop the purged paths of others."""
        from data_platform.purge_policy import PurgePolicy

        policy = ctx.state.purge_policy
        if policy is None:
            policy = ctx.state.purge_policy = PurgePolicy.load(ctx.config)
        repo_id = listing.info.repo_id
        if not listing.per_row_repos and repo_id in policy.repos:
            message = "repository purged (ops.purge_requests): not crawled; `codemill purge --lift` to allow it again"
            ctx.record_errors([E.IngestError(listing.info.spec, "", "list", E.PURGED, message)])
            ctx.progress("list", f"{listing.info.spec}: skipped, {message}")
            return True
        if repo_id in policy.globs:
            listing.entries = [e for e in listing.entries if not policy.skips_path(repo_id, e.path)]
        return False


class CrawlFiles:
    """Executors read bytes; new or changed files are MERGEd into bronze.file_contents (the bytes) and
    bronze.files (metadata), snapshots into bronze.repos."""

    name = "crawl"
    reads = ("listings", "purge_policy", "per_row_repos", "repo_ids")
    writes = ("crawled", "crawl_errors")

    def run(self, ctx: RunContext) -> None:
        from pyspark.sql import functions as F

        listings: list[Listing] = ctx.state.listings
        tasks = plan_from_settings(listings, ctx.config.ingest, ctx.spark.sparkContext.defaultParallelism)
        started = time.perf_counter()
        if not tasks:
            for key in ("crawl.files", "crawl.bytes", "crawl.changed_files"):
                ctx.count(key, 0)
            ctx.progress(self.name, "nothing to read")
            crash_point("after_bronze")
            return
        crawled = ctx.persist(crawled_dataframe(ctx.spark, listings, tasks, limits_of(ctx)))
        totals = crawled.agg(
            F.count(F.when(F.col("error_kind").isNull(), 1)).alias("files"),
            F.coalesce(F.sum("size_bytes"), F.lit(0)).alias("bytes"),
            F.count(F.col("error_kind")).alias("errors"),
        ).first()
        seconds = time.perf_counter() - started
        ctx.count("crawl.files", totals["files"])
        ctx.count("crawl.bytes", totals["bytes"])
        ctx.progress(self.name, f"{totals['files']:,} files, {totals['bytes'] / 1e6:,.1f} MB read by {len(tasks)} "
                                f"tasks in {seconds:.1f}s ({rate(totals['files'], seconds, 'files')}, "
                                f"{rate(totals['bytes'] / 1e6, seconds, 'MB')}), {totals['errors']} unreadable")
        ctx.state.crawl_errors = crawled.where(F.col("error_kind").isNotNull()).select("repo_id", "path", "error_kind")
        ctx.record_error_frame(
            crawled.where(F.col("error_kind").isNotNull()).select(
                "source", "path", F.lit("crawl").alias("stage"), F.col("error_kind").alias("kind"),
                F.col("error_message").alias("message"))
        )
        files = crawled.where(F.col("error_kind").isNull()).withColumn("run_id", F.lit(ctx.run_id)).withColumn(
            "crawled_at", F.lit(ctx.started_at))
        purged = ctx.state.purge_policy
        if purged is not None and purged.repos and ctx.state.per_row_repos:
            files = files.where(~F.col("repo_id").isin(sorted(purged.repos)))  # dataset rows of purged repositories
        ctx.state.crawled = files
        changed = ctx.materialize(unseen(ctx, files, "bronze.files"))
        n_changed = changed.count()
        ctx.count("crawl.changed_files", n_changed)
        if n_changed:
            self._write(ctx, changed)
        ctx.progress(self.name, f"{n_changed:,} new or changed files merged into bronze.files and "
                                "bronze.file_contents")
        crash_point("after_bronze")

    @staticmethod
    def _write(ctx: RunContext, changed) -> None:
        """Raw bytes into bronze.file_contents (restricted) first, then the metadata into bronze.files.

        ``unseen`` compares the crawl with bronze.files, so a run killed between the two MERGEs
        finds the files still changed and writes both again (each MERGE is idempotent); the
        other order could leave metadata whose content was never stored.
        """
        from data_platform.lake_moves import file_id_column

        when = "target.blob_sha <> source.blob_sha"
        contents = changed.select("repo_id", "path", "blob_sha", "content", "run_id", "crawled_at").withColumn(
            "file_id", file_id_column())
        ctx.wrote("bronze.file_contents", lake.merge(ctx.spark, ctx.config, "bronze.file_contents", contents,
                                                     changed_when=when))
        ctx.wrote("bronze.files", lake.merge(ctx.spark, ctx.config, "bronze.files",
                                             changed.drop(*CRAWL_WORKING_COLUMNS, "content"), changed_when=when))


# bronze.repos columns a snapshot row starts with (the write adds run_id and crawled_at).
SNAPSHOT_COLUMNS = [c for c in contract("bronze.repos").column_names if c not in ("run_id", "crawled_at")]


class RecordSnapshots:
    """MERGE one bronze.repos row per new snapshot, last: a recorded snapshot means fully curated.

    ListSources skips sources whose snapshot is already recorded, so writing it only after
    silver is written lets a run killed half-way redo that source next time.
    """

    name = "snapshots"
    reads = ("listings", "crawled", "licenses")
    writes = ()

    def run(self, ctx: RunContext) -> None:
        from pyspark.sql import functions as F

        listings: list[Listing] = ctx.state.listings
        if not listings:
            return
        files = ctx.state.crawled
        licenses = ctx.state.licenses
        rows = []
        for listing in listings:
            info = listing.info
            if listing.per_row_repos:
                continue
            spdx = licenses.get(info.repo_id)
            row = {"repo_id": info.repo_id, "repo_url": info.repo_url, "repo_name": info.repo_name,
                   "source_kind": info.kind, "ref": info.ref, "commit_sha": info.commit_sha,
                   "commit_date": info.commit_date, "license_spdx": spdx, "license_class": license_class(spdx),
                   "file_count": len(listing.entries)}
            rows.append(tuple(row.get(name) for name in SNAPSHOT_COLUMNS))
        # The contract's columns up to file_count (run_id/crawled_at come next); the commit date
        # arrives as ISO text and is parsed by Spark.
        schema = contract("bronze.repos").spark_ddl(SNAPSHOT_COLUMNS, types={"commit_date": "string"})
        repos = ctx.spark.createDataFrame(rows, schema).withColumn("commit_date", F.to_timestamp("commit_date"))
        dataset_specs = [listing.info.spec for listing in listings if listing.per_row_repos]
        if dataset_specs and files is not None:
            repos = repos.unionByName(self._dataset_repos(files, dataset_specs))
        repos = repos.withColumn("run_id", F.lit(ctx.run_id)).withColumn("crawled_at", F.lit(ctx.started_at))
        existing = lake.read_table(ctx.spark, ctx.config, "bronze.repos").select("repo_id", "commit_sha")
        new = ctx.materialize(repos.join(existing, ["repo_id", "commit_sha"], "left_anti"))
        n_new = new.count()
        ctx.count("snapshots.new", n_new)
        if n_new:
            ctx.wrote("bronze.repos", lake.merge(ctx.spark, ctx.config, "bronze.repos", new))

    @staticmethod
    def _dataset_repos(files, specs: list[str]):
        from pyspark.sql import functions as F

        rows = files.where(F.col("source").isin(specs))
        grouped = rows.groupBy("repo_id", "repo_url", "repo_name", "commit_sha").agg(
            F.max("stars").alias("stars"), F.first("license_spdx", ignorenulls=True).alias("license_spdx"),
            F.count("*").alias("file_count"))
        # One row per repository: a plain UDF is fine (a lambda, so Spark does not read the type hints).
        permissive = F.udf(lambda spdx_id: license_class(spdx_id), "string")
        return grouped.select(
            "repo_id", "repo_url", "repo_name", F.lit("dataset").alias("source_kind"),
            F.lit(None).cast("string").alias("ref"), "commit_sha", F.lit(None).cast("timestamp").alias("commit_date"),
            "license_spdx", permissive("license_spdx").alias("license_class"), "stars", "file_count")


class PruneFiles:
    """Files gone from a re-crawled snapshot leave bronze and silver; optionally, whole repositories.

    See :mod:`data_platform.ingest.prune`. Runs after the crawl and before curation, and
    before RecordSnapshots, so a run killed after it is redone (idempotently) next time.
    """

    name = "prune"
    reads = ("listings", "listed_repo_ids", "crawled", "crawl_errors", "dataset_specs")
    writes = ()

    def __init__(self, prune_missing: bool = False):
        self.prune_missing = prune_missing

    def run(self, ctx: RunContext) -> None:
        from data_platform.ingest.prune import delete_gone_files, prunable_snapshots

        snapshots = prunable_snapshots(ctx.state.listings)
        deleted = delete_gone_files(ctx, snapshots, ctx.state.crawled, ctx.state.crawl_errors)
        ctx.count("prune.deleted_files", deleted)
        if deleted:
            ctx.progress(self.name, f"{deleted:,} files no longer in their re-crawled snapshot removed from "
                                    "bronze.files, silver.files and silver.functions")
        if self.prune_missing:
            self._prune_missing_repos(ctx)

    @staticmethod
    def _prune_missing_repos(ctx: RunContext) -> None:
        from pyspark.sql import functions as F

        from data_platform.ingest.prune import delete_missing_repos

        if ctx.failed_sources:
            message = (f"--prune-missing not applied: {len(ctx.failed_sources)} source(s) could not be read this "
                       "run, and an unreadable source is not a removed one; fix or drop them and rerun")
            ctx.record_errors([E.IngestError("", "", "prune", E.PRUNE_REFUSED, message)])
            ctx.progress("prune", message)
            ctx.count("prune.removed_repositories", 0)
            return
        present = ctx.spark.createDataFrame([(r,) for r in sorted(ctx.state.listed_repo_ids)], "repo_id STRING")
        crawled, specs = ctx.state.crawled, ctx.state.dataset_specs
        if specs and crawled is not None:  # datasets name their repositories per row
            present = present.unionByName(crawled.where(F.col("source").isin(specs)).select("repo_id"))
        ctx.count("prune.removed_repositories", delete_missing_repos(ctx, present))


class CurateFiles:
    """Executors decode, measure, redact and parse files whose blob silver has not seen yet."""

    name = "curate"
    reads = ("crawled", "licenses", "repo_ids", "per_row_repos", "listings")
    writes = ()

    def run(self, ctx: RunContext) -> None:
        from pyspark.sql import functions as F

        crawled = ctx.state.crawled
        if crawled is None:
            return
        ingest = ctx.config.ingest
        limits = CurateLimits(ingest.parse_max_bytes, ingest.parse_timeout_ms / 1000, ingest.max_body_chars,
                              redact_pii=ctx.config.pii.enabled)
        # Against silver, not bronze: a run killed between the bronze and silver writes heals here.
        todo = unseen(ctx, crawled, "silver.files")
        started = time.perf_counter()
        # Records of a docs tree are sections, curated as documents of their own kind.
        record_kinds = {"docs": DOCS, "stackexchange": QA}
        kinds = {item.info.spec: record_kinds[item.info.kind] for item in ctx.state.listings
                 if item.info.kind in record_kinds}
        curated = ctx.materialize(curated_dataframe(ctx.spark, todo, ctx.state.licenses, limits, kinds))
        totals = curated.agg(
            F.count("file_id").alias("files"), F.coalesce(F.sum("size_bytes"), F.lit(0)).alias("bytes"),
            F.coalesce(F.sum(F.size("functions")), F.lit(0)).alias("functions"),
            F.count(F.when(F.col("parse_ok"), 1)).alias("parsed"),
        ).first()
        seconds = time.perf_counter() - started
        ctx.count("curate.files", totals["files"])
        ctx.count("curate.bytes", totals["bytes"])
        ctx.count("curate.parsed_files", totals["parsed"])
        ctx.count("curate.functions", totals["functions"])
        ctx.progress(self.name, f"{totals['files']:,} files ({totals['bytes'] / 1e6:,.1f} MB), "
                                f"{totals['parsed']:,} parsed, {totals['functions']:,} functions in {seconds:.1f}s "
                                f"({rate(totals['files'], seconds, 'files')}, "
                                f"{rate(totals['bytes'] / 1e6, seconds, 'MB')})")
        ctx.record_error_frame(
            curated.select("source", F.explode("errors").alias("e")).select(
                "source", "e.path", "e.stage", "e.kind", "e.message")
        )
        if totals["files"]:
            self._write(ctx, curated.where(F.col("file_id").isNotNull()))

    def _write(self, ctx: RunContext, rows) -> None:
        """Functions first, silver.files last: a file's blob_sha in silver.files marks it curated.

        A run killed between the two writes leaves silver.files without the new blob, so the
        next run curates the file again and rewrites its functions (the MERGE is idempotent);
        the other order would leave the functions of the old blob in place for good.
        """
        from pyspark.sql import functions as F

        self._write_functions(ctx, rows)
        self._write_sections(ctx, rows)
        crash_point("after_functions")
        silver_rows = rows.select(*SILVER_COLUMNS).withColumn(
            "run_id", F.lit(ctx.run_id)).withColumn("updated_at", F.lit(ctx.started_at))
        ctx.wrote("silver.files", lake.merge(ctx.spark, ctx.config, "silver.files", silver_rows,
                                             changed_when="target.blob_sha <> source.blob_sha"))

    @staticmethod
    def _write_sections(ctx: RunContext, rows) -> None:
        """silver.doc_sections and silver.qa_threads rows of the sections and threads among ``rows`` (MERGE on keys)."""
        from pyspark.sql import functions as F

        for column, table in (("doc_section", "silver.doc_sections"), ("qa_thread", "silver.qa_threads")):
            found = rows.where(F.col(column).isNotNull()).select(f"{column}.*")
            if found.isEmpty():
                continue
            found = found.withColumn("run_id", F.lit(ctx.run_id)).withColumn("updated_at", F.lit(ctx.started_at))
            ctx.wrote(table, lake.merge(ctx.spark, ctx.config, table, found))

    @staticmethod
    def _write_functions(ctx: RunContext, rows) -> None:
        """Replace the functions of every re-curated file in one MERGE (stale ones deleted)."""
        from delta.tables import DeltaTable
        from pyspark.sql import functions as F

        new = rows.select(F.explode("functions").alias("f")).select("f.*").withColumn("run_id", F.lit(ctx.run_id))
        new = lake.conform(new, "silver.functions").dropDuplicates(["function_id"])
        path = lake.ensure_table(ctx.spark, ctx.config, "silver.functions")
        current = lake.read_table(ctx.spark, ctx.config, "silver.functions")
        stale = (
            current.join(rows.select("file_id"), "file_id", "left_semi")
            .join(new.select("function_id"), "function_id", "left_anti")
        )
        # `_op` is this MERGE's own instruction column, added after conforming, never a table column.
        source = new.withColumn("_op", F.lit("upsert")).unionByName(lake.conform(stale, "silver.functions")
                                                                     .withColumn("_op", F.lit("delete")))
        columns = contract("silver.functions").column_names
        assign = {f"`{name}`": f"source.`{name}`" for name in columns}
        same = " AND ".join(f"target.`{c}` <=> source.`{c}`" for c in ("body", "docstring", "signature", "end_line"))
        (
            DeltaTable.forPath(ctx.spark, str(path)).alias("target")
            .merge(source.alias("source"), "target.function_id = source.function_id")
            .whenMatchedDelete(condition="source._op = 'delete'")
            .whenMatchedUpdate(condition=f"source._op = 'upsert' AND NOT ({same})", set=assign)
            .whenNotMatchedInsert(condition="source._op = 'upsert'", values=assign)
            .execute()
        )
        ctx.wrote("silver.functions", lake.table_version(path))


def default_stages(after_curate: Sequence[Stage] = (), prune_missing: bool = False) -> list[Stage]:
    """The ingest stages in order; later stages (dedup, publish, gate) go in ``after_curate``.

    RecordSnapshots stays last: a recorded snapshot tells the next run to skip the source, so
    a run killed anywhere before it is redone by the next one. ``prune_missing`` also removes
    repositories that are not among the run's sources (``codemill ingest --prune-missing``).
    """
    return [ListSources(), CrawlFiles(), PruneFiles(prune_missing), CurateFiles(), *after_curate, RecordSnapshots()]
