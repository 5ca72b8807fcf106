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
    from data_platform.sql import restricted_guard

    restricted = {name: str(path) for name, path in STATE.config.lake.restricted_paths().items()}
    return restricted_guard(STATE.spark(), restricted)


ENGINES = ("auto", "duckdb", "spark")


class SqlRunner:
    """Answers scripts with the fast path (DuckDB over delta-rs) when it can, else with Spark.

    Neither engine starts before a statement needs it: a query the fast path answers never
    imports pyspark, so `codemill sql` answers in seconds instead of ~24 s.
    """

    def __init__(self, engine: str, allow_restricted: bool):
        self.engine = engine
        self.allow_restricted = allow_restricted
        self._fast = None
        self._guard = None

    def _fast_engine(self):
        from data_platform.sql_fast import FastEngine, local_tables

        # One engine per session (warm snapshots and connections); the table list is read again
        # per script so an interactive session sees tables written meanwhile.
        tables, restricted = local_tables(STATE.config)
        if self._fast is None:
            self._fast = FastEngine(tables, None if self.allow_restricted else restricted)
        self._fast.tables = tables
        return self._fast

    def _why_not_fast(self) -> str | None:
        if STATE.config.lake.metastore != "embedded":
            return f"the catalog is a shared metastore ({STATE.config.lake.metastore}): names resolve on Spark"
        return None

    def run(self, text: str, max_rows: int | None) -> list:
        from data_platform.sql import SqlError, run_script
        from data_platform.sql_fast import NotFastPathable, run_fast_script

        reason = self._why_not_fast() if self.engine != "spark" else "--engine spark"
        if reason is None:
            try:
                results = run_fast_script(self._fast_engine(), text, max_rows)
                self._say("engine: duckdb (read-only fast path over delta-rs snapshots)")
                return results
            except NotFastPathable as err:
                reason = str(err)
        if self.engine == "duckdb":
            raise SqlError(f"the DuckDB fast path cannot answer this: {reason}")
        self._say(f"engine: spark ({reason})")
        return list(run_script(_named_spark(), text, max_rows, self._spark_guard()))

    def _spark_guard(self):
        if self.allow_restricted:
            return None
        if self._guard is None:
            self._guard = _restricted_guard()
        return self._guard

    @staticmethod
    def _say(line: str) -> None:
        if STATE.verbose:
            typer.secho(line, err=True, fg=typer.colors.CYAN)


def _interactive(runner: SqlRunner, output_format: str, max_rows: int | None) -> None:
    from data_platform.sql import SqlError

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
            try:
                _emit(runner.run("\n".join(buffer), max_rows), output_format, None)
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
    engine: str = typer.Option(
        "auto", "--engine",
        help="auto: read-only queries over the lake's local tables run on DuckDB (no JVM), anything else "
        "on Spark; duckdb: fail rather than start Spark; spark: always Spark. --verbose names the engine used.",
    ),
    allow_restricted: bool = typer.Option(
        False, "--allow-restricted",
        help="Allow statements on restricted tables (bronze.file_contents: raw bytes; gold.quarantine: unredacted text; anything under <lake>/restricted/). "
        "Refused without it; the real boundary is who may read their storage (docs/security.md).",
    ),
) -> None:
    """Query lake tables by name (bronze.files, silver.files, gold.training_corpus, ops.*).

    Every table of schemas/ answers by name as soon as any command has written it, whichever
    engine wrote it (Spark jobs, or delta-rs for ops.* rows from training, evaluation and the
    quality gate).

    Delta time travel works: SELECT count(*) FROM gold.training_corpus VERSION AS OF 3.
    A table can also be read by path: SELECT * FROM delta.`/path/to/table`.
    Read-only queries are answered by DuckDB over delta-rs snapshots when the result is
    certain to equal Spark's (docs/sql.md); writes, DDL, views and the rest run on Spark.
    """
    from data_platform.sql import SqlError

    if output_format not in ("table", "csv", "json"):
        fail(f"--format must be table, csv or json, not {output_format!r}")
    if engine not in ENGINES:
        fail(f"--engine must be auto, duckdb or spark, not {engine!r}")
    limit = None if max_rows == 0 else max_rows
    runner = SqlRunner(engine, allow_restricted)
    if query is None and file is None:
        _interactive(runner, output_format, limit)
        return
    text = file.read_text() if file else query
    try:
        _emit(runner.run(text, limit), output_format, output)
    except SqlError as err:
        fail(f"SQL error: {err}", code=1)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
