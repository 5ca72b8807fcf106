"""`codemill ingest` as an ordered list of small stages sharing one run context.

    ListSources → CrawlFiles → PruneFiles → CurateFiles → [Refine → QualityGate] → RecordSnapshots

The stages live in :mod:`data_platform.ingest.stages` (crawl, prune, curate, record) and
:mod:`data_platform.ingest.finish` (refine, gate); what they share is
:mod:`data_platform.ingest.context`. Adding a stage is one line:
``run_ingest(..., stages=default_stages([Dedup()]))``.

The run is recorded in ``ops.ingest_runs`` (status running → succeeded / partial / failed)
and every problem in ``ops.ingest_errors``; bad input never stops the run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from data_platform.config import PlatformConfig
from data_platform.contracts import contract
from data_platform.ingest import errors as E
from data_platform.ingest.context import (
    FAILED,
    INGEST_TABLES,
    PARTIAL,
    RUNNING,
    SUCCEEDED,
    RunContext,
    Stage,
    check_stage_order,
    run_stage,
)
from data_platform.ingest.credentials import remember_handed_over
from data_platform.ingest.errors import IngestError
from data_platform.ingest.sources import public_source
from data_platform.ingest.stages import default_stages
from data_platform.ops.progress import SparkProgress
from data_platform.ops.records import upsert_rows
from data_platform.ops.runs import code_version, new_run_id, now, timed


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


def run_ingest(
    spark,
    config: PlatformConfig,
    sources: list[str],
    run_id: str | None = None,
    stages: Sequence[Stage] | None = None,
    echo: Callable[[str], None] = print,
) -> IngestSummary:
    """Run every stage over ``sources``; returns the summary (status failed when no source was read)."""
    # Credentials in source URLs are remembered for the fetch and never reach a table or a log;
    # those `codemill submit` took off the command line arrive through the environment.
    remember_handed_over()
    sources = [public_source(spec) for spec in sources]
    stages = list(stages if stages is not None else default_stages())
    check_stage_order(stages)
    ctx = RunContext(spark, config, run_id or new_run_id("ingest"), sources, now(), echo=echo)
    from data_platform import lake
    from data_platform.spark import spark_ui_url

    ctx.progress("start", f"{len(sources)} source(s); Spark UI {spark_ui_url(spark) or 'disabled'}")
    # Create (once) and name every table this run writes, so SQL finds even those left empty.
    lake.init_tables(spark, config, INGEST_TABLES)
    record_run(ctx, RUNNING)
    status = FAILED
    try:
        for stage in stages:
            say = lambda text, name=stage.name: ctx.progress(name, text)  # noqa: E731
            with timed(ctx.seconds, stage.name), SparkProgress(spark, say, config.ingest.progress_every_s):
                run_stage(stage, ctx)
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
    if ctx.state.gate_failed:
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
        schema = contract("ops.ingest_errors").spark_ddl(E.ERROR_FIELDS)
        frames.append(ctx.spark.createDataFrame(rows, schema))
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


def record_run(ctx: RunContext, status: str, error_count: int = 0) -> None:
    """Upsert this run's ops.ingest_runs row through delta-rs (milliseconds, no Spark job)."""
    row = {
        "run_id": ctx.run_id,
        "status": status,
        "started_at": ctx.started_at,
        "finished_at": None if status == RUNNING else now(),
        "sources": ctx.sources,
        "stage_counts": list(ctx.counts.items()),
        "stage_seconds": list(ctx.seconds.items()),
        "table_versions": list(ctx.table_versions.items()),
        "error_count": error_count,
        "config_yaml": ctx.config.to_yaml(),
        "code_version": code_version(),
    }
    upsert_rows(ctx.config, "ops.ingest_runs", [row])


def main_exit_code(summary: IngestSummary) -> int:
    if summary.status == FAILED and summary.counts.get("quality.gold.published") == 0:
        print(f"ingest failed: the new gold version did not pass its quality gate and was not published; "
              f"the previous published version stays (codemill quality report --run {summary.run_id})",
              file=sys.stderr)
    elif summary.status == FAILED:
        print(f"ingest failed: none of {len(summary.sources)} source(s) could be read "
              f"({summary.error_count} errors, see ops.ingest_errors run_id = '{summary.run_id}')", file=sys.stderr)
    return summary.exit_code


__all__ = ["FAILED", "PARTIAL", "SUCCEEDED", "IngestSummary", "RunContext", "Stage", "default_stages", "run_ingest", "E"]
