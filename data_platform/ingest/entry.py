"""The one entry of the ingest job: `codemill ingest` and ``jobs/ingest.py`` both call :func:`ingest`.

Both front ends parse the same options (:data:`OPTIONS` is the list a test holds them to) into
an :class:`IngestOptions` and hand it here, so the CLI and a job submitted to a cluster choose
their sources, stages and exit status the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from data_platform.config import PlatformConfig
from data_platform.ingest.finish import ingest_stages
from data_platform.ingest.run import IngestSummary, main_exit_code, run_ingest

# Long option names of the ingest job, in --help order (the CLI and jobs/ingest.py declare each).
OPTIONS = ("--source", "--run-id", "--demo", "--refine", "--curate-only", "--prune-missing")


class NoSourcesError(ValueError):
    """Nothing to crawl: no --source, no ingest.sources in the config, no --demo."""


@dataclass(frozen=True)
class IngestOptions:
    sources: list[str] = field(default_factory=list)
    run_id: str | None = None
    demo: bool = False
    refine: bool = False
    curate_only: bool = False
    prune_missing: bool = False


def choose_sources(options: IngestOptions, config: PlatformConfig) -> list[str]:
    """--source values, else the config's ingest.sources; --demo adds the demo corpus."""
    from data_platform.ingest.demo_corpus import demo_sources

    sources = list(options.sources) or list(config.ingest.sources)
    if options.demo:
        sources += [source for source in demo_sources() if source not in sources]
    if not sources:
        raise NoSourcesError("no sources: pass --source PATH_OR_URL, set ingest.sources in the config, or use --demo")
    return sources


def ingest(
    start_spark: Callable[[], Any], config: PlatformConfig, options: IngestOptions,
    echo: Callable[[str], None] = print,
) -> int:
    """Run the ingest job; returns its exit status (1: no source read, or gold failed its gate).

    ``start_spark`` is called only once the sources are known: a bad command line fails in
    milliseconds, not after a ten-second session start.
    """
    sources = choose_sources(options, config)
    if options.demo:
        admit_unlicensed_demo_files(config, echo)
    spark = start_spark()
    stages = ingest_stages(curate_only=options.curate_only, force_refine=options.refine,
                           prune_missing=options.prune_missing)
    summary: IngestSummary = run_ingest(spark, config, sources, run_id=options.run_id, stages=stages, echo=echo)
    return main_exit_code(summary)


def admit_unlicensed_demo_files(config: PlatformConfig, echo: Callable[[str], None]) -> None:
    """The demo opts in to files without a license file, and says so.

    It crawls this machine's own files (stdlib, headers, npm), whose license files sit outside the
    folders crawled: they would all be class 'none', which the default policy keeps out of gold.
    Crawled code never opts in by default.
    """
    filters = config.filters
    if "none" not in filters.allowed_license_classes:
        filters.allowed_license_classes = [*filters.allowed_license_classes, "none"]
        echo("demo: admitting files without a license file into gold "
             "(filters.allowed_license_classes += none; the default policy keeps them out)")
