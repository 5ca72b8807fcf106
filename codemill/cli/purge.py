"""`codemill purge`: take a repository (or some of its paths) out of every layer, for good."""

from __future__ import annotations

import typer

from codemill.cli.context import STATE, fail


def purge(
    repo: str = typer.Option(..., "--repo", help="Repository as a URL, local path, owner/name (dataset rows) or "
                             "repo_id. User info in a URL is ignored."),
    path_glob: str = typer.Option(None, "--path-glob", help="Only paths matching this glob (e.g. 'config/*.env', "
                                  "'**/secrets/*'); the repository's other files stay."),
    reason: str = typer.Option(None, "--reason", help="Why (opt-out, takedown, leaked secret): recorded."),
    lift: bool = typer.Option(False, "--lift", help="Lift an earlier purge of --repo (and --path-glob): later "
                              "ingests crawl it again. Nothing deleted comes back."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a repository's rows from bronze, silver, gold, quarantine and splits, gate a new gold
    version without them, vacuum older table versions (lake.purge_retention_hours, default 0) so time
    travel cannot bring them back, and record the request in ops.purge_requests. Later ingest runs skip
    the repository (or the paths) until the purge is lifted with --lift.
    """
    from data_platform.purge import AmbiguousRepository, resolve_targets
    from data_platform.purge import lift as lift_purge
    from data_platform.purge import purge as run_purge

    config = STATE.config
    spark = STATE.spark()
    try:
        targets = resolve_targets(spark, config, repo)
    except AmbiguousRepository as err:
        fail(str(err))
    if lift:
        from data_platform.ingest.credentials import redact_credentials

        ids = [target.repo_id for target in targets]
        lifted = lift_purge(config, ids, redact_credentials(repo), path_glob)
        if not lifted:
            fail(f"no active purge of {redact_credentials(repo)}" + (f" for {path_glob!r}" if path_glob else ""))
        typer.echo(f"lifted {lifted} purge request(s): later ingests may crawl it again")
        return
    if not yes:
        what = f"paths matching {path_glob!r} of " if path_glob else ""
        names = ", ".join(target.repo_url or target.repo_id for target in targets)
        typer.confirm(f"Permanently delete {what}{names} from every table of {config.lake.root}, "
                      "including older Delta versions?", abort=True)
    result = run_purge(spark, config, repo, path_glob, reason)
    for line in result.summary_lines():
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("purge")(purge)
