"""What the ingest stages share: the run context, the stage protocol and the run statuses.

A stage is an object with a ``name`` and ``run(ctx)``; it reads what earlier stages left in
``ctx.state`` (a :class:`StageOutputs`), records counts, table versions and errors on the context, and leaves its own
outputs for the next. Both the stages (:mod:`data_platform.ingest.stages`,
:mod:`data_platform.ingest.finish`) and the runner (:mod:`data_platform.ingest.run`) import
this module, so neither imports the other's internals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from data_platform.config import PlatformConfig
from data_platform.ingest.credentials import redact_credentials
from data_platform.ingest.errors import IngestError

RUNNING, SUCCEEDED, PARTIAL, FAILED = "running", "succeeded", "partial", "failed"
INGEST_TABLES = ("bronze.repos", "bronze.files", "bronze.file_contents", "silver.files", "silver.functions",
                 "silver.doc_sections", "silver.qa_threads", "ops.ingest_runs", "ops.ingest_errors")


class Stage(Protocol):
    """One step of an ingest run. ``reads`` and ``writes`` name the :class:`StageOutputs` fields it
    takes from earlier stages and leaves for later ones: its typed inputs and outputs. The runner
    checks the order (:func:`check_stage_order`) and that a stage sets nothing it did not declare;
    ``tests/unit/test_ingest_stage_contracts.py`` checks the declarations against the code."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]

    def run(self, ctx: RunContext) -> None: ...


@dataclass
class StageOutputs:
    """What stages hand to later stages of one run; each field names the stage that sets it."""

    listings: list[Any] = field(default_factory=list)  # list: sources to crawl (changed since their snapshot)
    licenses: dict[str, str | None] = field(default_factory=dict)  # list: repo_id -> SPDX id found at the root
    repo_ids: set[str] = field(default_factory=set)  # list: repositories of ``listings``
    listed_repo_ids: set[str] = field(default_factory=set)  # list: every repository named, changed or not
    dataset_specs: list[str] = field(default_factory=list)  # list: dataset sources (one repository per row)
    per_row_repos: bool = False  # list: some source is a dataset
    purge_policy: Any = None  # list: PurgePolicy, loaded once
    crawled: Any = None  # crawl: DataFrame of every readable crawled file
    crawl_errors: Any = None  # crawl: DataFrame (repo_id, path, error_kind) of what the crawl could not read
    refined: bool = False  # refine: a new gold version was built
    gate_failed: bool = False  # gate: that version failed its quality gate


class StageOrderError(RuntimeError):
    """A stage reads an output no earlier stage writes, or sets one it did not declare."""


def check_stage_order(stages: Sequence[Stage]) -> None:
    """Raise StageOrderError unless every stage's ``reads`` are written by a stage before it."""
    written: set[str] = set()
    for stage in stages:
        missing = set(stage.reads) - written
        if missing:
            raise StageOrderError(f"stage {stage.name} reads {', '.join(sorted(missing))}, "
                                  "which no earlier stage writes")
        written |= set(stage.writes)


def run_stage(stage: Stage, ctx: RunContext) -> None:
    """Run one stage; raise StageOrderError if it set a StageOutputs field it does not declare."""
    before = {name: id(value) for name, value in vars(ctx.state).items()}
    stage.run(ctx)
    undeclared = {name for name, value in vars(ctx.state).items() if id(value) != before[name]} - set(stage.writes)
    if undeclared:
        raise StageOrderError(f"stage {stage.name} set {', '.join(sorted(undeclared))} without declaring it")


@dataclass
class RunContext:
    spark: Any
    config: PlatformConfig
    run_id: str
    sources: list[str]
    started_at: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    table_versions: dict[str, int] = field(default_factory=dict)
    driver_errors: list[IngestError] = field(default_factory=list)
    error_frames: list[Any] = field(default_factory=list)  # DataFrames: source, path, stage, kind, message
    failed_sources: set[str] = field(default_factory=set)
    state: StageOutputs = field(default_factory=StageOutputs)
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




def rate(count: float, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s" if seconds > 0 else f"- {unit}/s"


