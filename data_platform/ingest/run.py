"""`codemill ingest` as an ordered list of small stages sharing one run context.

    ListSources → CrawlFiles → PruneFiles → CurateFiles → [Refine → QualityGate] → RecordSnapshots

A stage is an object with a ``name`` and ``run(ctx)``; it reads what earlier stages left in
``ctx.state``, records counts, table versions and errors on the context, and leaves its own
outputs for the next. Adding a stage is one line: ``run_ingest(..., stages=default_stages([Dedup()]))``.

The run is recorded in ``ops.ingest_runs`` (status running → succeeded / partial / failed)
and every problem in ``ops.ingest_errors``; bad input never stops the run.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from data_platform.config import CodemillConfig
from data_platform.ingest import errors as E
from data_platform.ingest.credentials import redact_credentials
from data_platform.ingest.errors import IngestError
from data_platform.ingest.sources import public_source

RUNNING, SUCCEEDED, PARTIAL, FAILED = "running", "succeeded", "partial", "failed"
INGEST_TABLES = ("bronze.repos", "bronze.files", "silver.files", "silver.functions", "ops.ingest_runs",
                 "ops.ingest_errors")


class Stage(Protocol):
    name: str

    def run(self, ctx: RunContext) -> None: ...


@dataclass
class RunContext:
    spark: Any
    config: CodemillConfig
    run_id: str
    sources: list[str]
    started_at: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    table_versions: dict[str, int] = field(default_factory=dict)
    driver_errors: list[IngestError] = field(default_factory=list)
    error_frames: list[Any] = field(default_factory=list)  # DataFrames: source, path, stage, kind, message
    failed_sources: set[str] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)  # what stages hand to later stages
    echo: Callable[[str], None] = print
    _cached: list[Any] = field(default_factory=list)

    def count(self, key: str, value: int) -> None:
        self.counts[key] = int(value)

    def wrote(self, table: str, version: int) -> None:
        self.table_versions[table] = int(version)

    def record_errors(self, errors: Sequence[IngestError]) -> None:
        self.driver_errors.extend(errors)

    def record_error_frame(self, frame) -> None:
        self.error_frames.append(frame)

    def source_failed(self, source: str, kind: str, message: str) -> None:
        self.failed_sources.add(source)
        self.driver_errors.append(IngestError(source, "", "crawl", kind, redact_credentials(message)))

    def persist(self, frame):
        """Keep a DataFrame for later stages of this run; released when the run ends."""
        from pyspark import StorageLevel

        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(frame)
        return frame

    def materialize(self, frame):
        """Compute a DataFrame now and cut its lineage to the tables it was read from.

        Needed for anything derived from a table this run later writes (the anti-join of
        crawled files against bronze/silver): a Delta write invalidates cached plans that read
        the table, and recomputing them after the write would see the new rows and come out empty.
        """
        frame = frame.localCheckpoint(eager=True)
        self._cached.append(frame)
        return frame

    def release(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()

    def progress(self, stage: str, text: str) -> None:
        self.echo(f"[ingest {self.run_id}] {stage}: {text}")


@dataclass(frozen=True)
class IngestSummary:
    run_id: str
    status: str
    sources: list[str]
    failed_sources: list[str]
    counts: dict[str, int]
    seconds: dict[str, float]
    table_versions: dict[str, int]
    error_count: int
    errors_by_kind: dict[str, int]

    @property
    def exit_code(self) -> int:
        return 1 if self.status == FAILED else 0

    def lines(self) -> list[str]:
        lines = [f"run {self.run_id}: {self.status}; {len(self.sources) - len(self.failed_sources)}"
                 f"/{len(self.sources)} sources read; {self.error_count} errors recorded"]
        for key, value in self.counts.items():
            lines.append(f"  {key:<28} {value:>10,}")
        for key, value in self.seconds.items():
            lines.append(f"  {key + ' seconds':<28} {value:>10.1f}")
        if self.errors_by_kind:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.errors_by_kind.items()))
            lines.append(f"  errors by kind: {kinds}")
        if self.table_versions:
            versions = ", ".join(f"{t}@v{v}" for t, v in self.table_versions.items())
            lines.append(f"  tables written: {versions}")
        return lines


def rate(count: float, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s" if seconds > 0 else f"- {unit}/s"


def default_stages(after_curate: Sequence[Stage] = (), prune_missing: bool = False) -> list[Stage]:
    """The ingest stages in order; later stages (dedup, publish, gate) go in ``after_curate``.

    RecordSnapshots stays last: a recorded snapshot tells the next run to skip the source, so
    a run killed anywhere before it is redone by the next one. ``prune_missing`` also removes
    repositories that are not among the run's sources (``codemill ingest --prune-missing``).
    """
    from data_platform.ingest.stages import CrawlFiles, CurateFiles, ListSources, PruneFiles, RecordSnapshots

    return [ListSources(), CrawlFiles(), PruneFiles(prune_missing), CurateFiles(), *after_curate, RecordSnapshots()]


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def run_ingest(
    spark,
    config: CodemillConfig,
    sources: list[str],
    run_id: str | None = None,
    stages: Sequence[Stage] | None = None,
    echo: Callable[[str], None] = print,
) -> IngestSummary:
    """Run every stage over ``sources``; returns the summary (status failed when no source was read)."""
    # Credentials in source URLs are remembered for the fetch and never reach a table or a log.
    sources = [public_source(spec) for spec in sources]
    ctx = RunContext(spark, config, run_id or new_run_id(), sources, dt.datetime.now(dt.UTC), echo=echo)
    from data_platform import lake
    from data_platform.spark import spark_ui_url

    ctx.progress("start", f"{len(sources)} source(s); Spark UI {spark_ui_url(spark) or 'disabled'}")
    # Create (once) and name every table this run writes, so SQL finds even those left empty.
    lake.init_tables(spark, config, INGEST_TABLES)
    record_run(ctx, RUNNING)
    status = FAILED
    try:
        for stage in stages if stages is not None else default_stages():
            started = time.perf_counter()
            stage.run(ctx)
            ctx.seconds[stage.name] = round(time.perf_counter() - started, 3)
        status = _final_status(ctx)
    except Exception as err:
        ctx.driver_errors.append(IngestError("", "", "run", "run_failed", f"{type(err).__name__}: {err}"))
        echo(f"[ingest {ctx.run_id}] failed: {type(err).__name__}: {err}")
        raise
    finally:
        error_count, by_kind = write_errors(ctx)
        record_run(ctx, status, error_count)
        ctx.release()
    summary = IngestSummary(ctx.run_id, status, ctx.sources, sorted(ctx.failed_sources), ctx.counts, ctx.seconds,
                            ctx.table_versions, error_count, by_kind)
    for line in summary.lines():
        echo(line)
    return summary


def _final_status(ctx: RunContext) -> str:
    if ctx.sources and len(ctx.failed_sources) >= len(set(ctx.sources)):
        return FAILED
    if ctx.state.get("gate_failed"):
        return FAILED  # the new gold version failed its quality suite and was not published
    return PARTIAL if ctx.failed_sources else SUCCEEDED


# ----------------------------------------------------------------------------- ops tables


def write_errors(ctx: RunContext) -> tuple[int, dict[str, int]]:
    """MERGE every recorded error into ops.ingest_errors (rerunning a run id adds nothing)."""
    from pyspark.sql import functions as F

    from data_platform import lake

    frames = list(ctx.error_frames)
    if ctx.driver_errors:
        rows = [(e.source, e.path, e.stage, e.kind, e.message) for e in ctx.driver_errors]
        frames.append(ctx.spark.createDataFrame(rows, "source STRING, path STRING, stage STRING, kind STRING, "
                                                      "message STRING"))
    if not frames:
        return 0, {}
    errors = frames[0]
    for frame in frames[1:]:
        errors = errors.unionByName(frame)
    errors = (
        errors.withColumn("run_id", F.lit(ctx.run_id))
        .withColumn("recorded_at", F.lit(ctx.started_at))
        .withColumn("source", F.coalesce("source", F.lit("")))
        .withColumn("path", F.coalesce("path", F.lit("")))
        .withColumn("message", F.coalesce("message", F.lit("")))
        .dropDuplicates(["source", "path", "kind"])
    )
    errors = ctx.persist(errors)
    by_kind = {row["kind"]: row["n"] for row in errors.groupBy("kind").agg(F.count("*").alias("n")).collect()}
    total = sum(by_kind.values())
    if total:
        ctx.wrote("ops.ingest_errors", lake.merge(ctx.spark, ctx.config, "ops.ingest_errors", errors))
    return total, by_kind


def code_version() -> str:
    import subprocess
    from pathlib import Path

    from codemill import __version__

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"codemill {__version__}" + (f" ({commit})" if commit else "")


def record_run(ctx: RunContext, status: str, error_count: int = 0) -> None:
    """Upsert this run's ops.ingest_runs row through delta-rs (milliseconds, no Spark job)."""
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import TableNotFoundError

    from data_platform.ops_log import rows_to_arrow

    row = {
        "run_id": ctx.run_id,
        "status": status,
        "started_at": ctx.started_at,
        "finished_at": None if status == RUNNING else dt.datetime.now(dt.UTC),
        "sources": ctx.sources,
        "stage_counts": list(ctx.counts.items()),
        "stage_seconds": list(ctx.seconds.items()),
        "table_versions": list(ctx.table_versions.items()),
        "error_count": error_count,
        "config_yaml": ctx.config.to_yaml(),
        "code_version": code_version(),
    }
    data = rows_to_arrow("ops.ingest_runs", [row])
    path = str(ctx.config.lake.table_path("ops.ingest_runs"))
    try:
        table = DeltaTable(path)
    except TableNotFoundError:
        write_deltalake(path, data, mode="append")
        return
    (
        table.merge(data, predicate="target.run_id = source.run_id", source_alias="source", target_alias="target")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )


def main_exit_code(summary: IngestSummary) -> int:
    if summary.status == FAILED and summary.counts.get("quality.gold.published") == 0:
        print(f"ingest failed: the new gold version did not pass its quality gate and was not published; "
              f"the previous published version stays (codemill quality report --run {summary.run_id})",
              file=sys.stderr)
    elif summary.status == FAILED:
        print(f"ingest failed: none of {len(summary.sources)} source(s) could be read "
              f"({summary.error_count} errors, see ops.ingest_errors run_id = '{summary.run_id}')", file=sys.stderr)
    return summary.exit_code


__all__ = ["IngestSummary", "RunContext", "Stage", "default_stages", "run_ingest", "E"]
