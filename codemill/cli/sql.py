"""`codemill sql`: query the lake's tables by name with Spark SQL (Delta time travel included)."""

from __future__ import annotations

from pathlib import Path

import typer

from codemill.cli.context import STATE, fail


def _emit(results, output_format: str, output: Path | None) -> None:
    from data_platform.sql import RENDERERS

    render = RENDERERS[output_format]
    chunks = []
    for result in results:
        if result.table.num_columns == 0:
            chunks.append("OK")
            continue
        chunks.append(render(result.table))
        if result.truncated:
            typer.secho(f"(showing the first {result.table.num_rows} rows; --max-rows 0 for all)",
                        err=True, fg=typer.colors.YELLOW)
    text = "\n".join(chunk.rstrip("\n") for chunk in chunks) + "\n"
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text, nl=False)


def _named_spark():
    """The session, with every table the lake holds named (tables written since it started too)."""
    from data_platform.lake import register_lake_tables

    spark = STATE.spark()
    register_lake_tables(spark, STATE.config)
    return spark


def _restricted_guard():
    from data_platform.contracts import all_contracts
    from data_platform.sql import restricted_guard

    restricted = {name: str(STATE.config.lake.table_path(name)) for name, table in all_contracts().items()
                  if table.restricted}
    return restricted_guard(STATE.spark(), restricted)


def _interactive(spark, output_format: str, max_rows: int | None, guard=None) -> None:
    from data_platform.lake import register_lake_tables
    from data_platform.sql import SqlError, run_script

    typer.echo("codemill SQL — end statements with ';', 'exit' or Ctrl-D to quit.")
    buffer: list[str] = []
    while True:
        try:
            line = input("sql> " if not buffer else "...> ")
        except EOFError:
            typer.echo()
            return
        if not buffer and line.strip().lower() in ("exit", "quit", "\\q"):
            return
        buffer.append(line)
        if line.rstrip().endswith(";"):
            register_lake_tables(spark, STATE.config)  # another process may have written a table meanwhile
            try:
                _emit(list(run_script(spark, "\n".join(buffer), max_rows, guard)), output_format, None)
            except SqlError as err:
                typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            buffer = []


def sql(
    query: str = typer.Argument(None, help="SQL to run, e.g. \"SELECT language, count(*) FROM silver.files GROUP BY 1\". "
                                           "Omit it (and --file) for an interactive prompt."),
    file: Path = typer.Option(None, "--file", "-f", exists=True, dir_okay=False, help="Run the statements in this file."),
    output_format: str = typer.Option("table", "--format", help="table, csv or json."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the result to this file instead of the terminal."),
    max_rows: int = typer.Option(1000, help="Rows fetched per statement; 0 fetches all."),
    allow_restricted: bool = typer.Option(
        False, "--allow-restricted",
        help="Allow statements on restricted tables (bronze.files: raw bytes; gold.quarantine: unredacted text). "
        "Refused without it; the real boundary is who may read their storage (docs/security.md).",
    ),
) -> None:
    """Query lake tables by name (bronze.files, silver.files, gold.training_corpus, ops.*).

    Every table of schemas/ answers by name as soon as any command has written it, whichever
    engine wrote it (Spark jobs, or delta-rs for ops.* rows from training, evaluation and the
    quality gate): the lake's tables are named in the catalog before the query runs.

    Delta time travel works: SELECT count(*) FROM gold.training_corpus VERSION AS OF 3.
    A table can also be read by path: SELECT * FROM delta.`/path/to/table`.
    """
    from data_platform.sql import SqlError, run_script

    guard = None if allow_restricted else _restricted_guard()
    if output_format not in ("table", "csv", "json"):
        fail(f"--format must be table, csv or json, not {output_format!r}")
    limit = None if max_rows == 0 else max_rows
    if query is None and file is None:
        _interactive(_named_spark(), output_format, limit, guard)
        return
    text = file.read_text() if file else query
    try:
        _emit(list(run_script(_named_spark(), text, limit, guard)), output_format, output)
    except SqlError as err:
        fail(f"SQL error: {err}", code=1)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
