"""`codemill quality`: validate table versions with Great Expectations and report on them."""

from __future__ import annotations

import typer

from codemill.cli.context import STATE, fail

quality_app = typer.Typer(
    help="Great Expectations gates, validation results and the offline data-quality report.",
    no_args_is_help=True,
)

GOLD = "gold.training_corpus"


def _known_table(table: str) -> None:
    from data_platform.contracts import ContractError, contract

    try:
        contract(table)
    except ContractError as err:
        fail(str(err))


@quality_app.command("run")
def run(
    table: str = typer.Option(
        ..., "--table", "-t", help="Table to validate, e.g. gold.training_corpus or silver.files."
    ),
    version: int | None = typer.Option(
        None, "--version", help="Delta version to validate (default: the latest)."
    ),
    publish: bool = typer.Option(
        False, "--publish", help=f"{GOLD} only: run the publication gate (publish the version if it passes)."
    ),
    run_id: str | None = typer.Option(
        None, "--run-id", help="Record the result under this run id (default: none)."
    ),
) -> None:
    """Validate one table version against its suite and record the result in ops.quality_results.

    The suite is derived from the table's contract (schemas/<table>.yaml) plus its semantic
    expectations (schemas/expectations/<table>.yaml). Exits 1 when an expectation fails.
    """
    from data_platform.quality import QualityError, gate_gold, validate_table
    from data_platform.quality.suites import SuiteError

    _known_table(table)
    if publish and table != GOLD:
        fail(f"--publish applies to {GOLD} only; other tables are validated, never published")
    spark = STATE.spark()
    try:
        if publish:
            result = gate_gold(spark, STATE.config, run_id, version)
            lines, success = result.summary_lines(), result.published
        else:
            outcome = validate_table(spark, STATE.config, table, version, run_id)
            lines, success = outcome.summary_lines(), outcome.success
            if outcome.data_docs_path:
                lines.append(f"Data Docs: {outcome.data_docs_path}")
    except (QualityError, SuiteError) as err:
        fail(str(err))
    for line in lines:
        typer.echo(line)
    typer.echo("HTML report with plots: codemill quality report" + (f" --run {run_id}" if run_id else ""))
    if not success:
        raise typer.Exit(1)


@quality_app.command("report")
def report(
    run: str | None = typer.Option(
        None, "--run", help="Ingest run id to report on (default: latest result per table)."
    ),
    profile: bool = typer.Option(
        True, "--profile/--no-profile", help="Include the data profile plots (needs Spark)."
    ),
) -> None:
    """Print a summary of validation results and write the offline HTML report (with plots).

    Lists the rows quarantined by row-level failures (gold.quarantine: path, expectation,
    masked reason) next to the versions they were held back from.
    """
    from data_platform.ops.records import read_rows
    from data_platform.quality import build_report
    from data_platform.quality.report import (
        ReportError,
        report_quarantine,
        select_results,
        summary_lines,
        with_quarantine_sources,
    )
    from data_platform.quality.results import OPS_TABLE

    config = STATE.config
    try:
        all_rows = read_rows(config, OPS_TABLE)
        rows = with_quarantine_sources(select_results(all_rows, run), all_rows)
    except ReportError as err:
        fail(str(err))
    for line in summary_lines(rows, report_quarantine(config, rows)):
        typer.echo(line)
    if not profile:
        config = config.model_copy(
            update={"quality": config.quality.model_copy(update={"report_profile": False})}
        )
    spark = STATE.spark() if profile else None
    try:
        path = build_report(spark, config, run)
    except ReportError as err:
        fail(str(err))
    typer.echo(f"report: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(quality_app, name="quality")
