"""`codemill ingest`: crawl sources into bronze and curate them into silver with Spark."""

from __future__ import annotations

from typing import Annotated

import typer

from codemill.cli.context import STATE, fail

SOURCE_HELP = """Source to crawl (repeatable). Kinds, detected from the argument:
a local git repository (its HEAD commit, read from git objects; `PATH#REF` picks a ref);
a remote git URL (https://, ssh://, git@host:, file://; shallow, blob-filtered clone into
ingest.cache_dir; `URL#REF`); a plain directory; a .zip/.tar/.tar.gz/.tgz/.tar.bz2/.tar.xz
archive (read in place, zip-slip and bombs refused); a .parquet/.jsonl dataset with repo, path
and content columns (The Stack's layout). Prefix `git:`, `dir:`, `archive:` or `dataset:` to
force a kind (e.g. `dataset:/data/the-stack/` for a folder of Parquet files). Beyond code:
`docs:PATH[#license=SPDX]` a documentation tree (HTML, Markdown, reST; folder or archive), one
document per section; `stackexchange:PATH` a Stack Exchange dump (folder, Posts.xml or .7z),
one document per question thread (docs/sources.md). Notebooks (.ipynb) in any source are read
as scripts."""


PRUNE_HELP = """Also remove every repository the lake holds that is not among this run's sources
(from bronze.repos, bronze.files, silver.files, silver.functions; the next gold version is
rebuilt without it; older Delta versions keep it). Without this flag a source left off the
command line is untouched. Refused (recorded as prune_refused) when any source of the run
cannot be read."""


def ingest(
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help=SOURCE_HELP, show_default=False)] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Id of this run (default: time + random).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Also crawl the built-in demo corpus (Python stdlib "
                                       "subset, /usr/include, npm's JavaScript, this repository).")] = False,
    refine: Annotated[bool, typer.Option("--refine", help="Rebuild dedup, filters and gold even when no file "
                                         "changed (e.g. after changing filters.* thresholds).")] = False,
    curate_only: Annotated[bool, typer.Option("--curate-only", help="Stop after silver: no dedup, gold or "
                                              "quality gate.")] = False,
    prune_missing: Annotated[bool, typer.Option("--prune-missing", help=PRUNE_HELP)] = False,
) -> None:
    """Crawl sources into bronze, curate into silver, dedup/redact/filter into a new gold version, gate it.

    Sources come from --source, else from the config's ingest.sources; --demo adds the
    demo corpus. jobs/ingest.py (the cluster entry) takes the same options. Re-running on unchanged sources changes no table; changed files
    are re-curated alone, and files deleted upstream leave silver and the next gold version
    (a source not given is left alone unless --prune-missing). A run killed at any point is
    finished by the next one. Every unreadable source or file (down to one missing git
    object, corrupt archive member or bad dataset row) becomes a row of
    ops.ingest_errors and the run goes on; the run itself is recorded in ops.ingest_runs.
    The new gold version is published only when its Great Expectations suite passes.
    Exits 1 when no source could be read or the gold version failed its quality gate.
    """
    from data_platform.ingest.entry import IngestOptions, NoSourcesError, ingest

    options = IngestOptions(list(source or []), run_id, demo, refine, curate_only, prune_missing)
    try:
        # The ingest addresses tables by path: its session need not name them (get_spark).
        code = ingest(lambda: STATE.spark(names=False), STATE.config, options, echo=typer.echo)
    except NoSourcesError as err:
        fail(str(err))
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
