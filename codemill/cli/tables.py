"""`codemill tables`: create the lake's tables from their contracts and inspect them."""

from __future__ import annotations

import datetime as dt

import typer

from codemill.cli.context import STATE, fail

tables_app = typer.Typer(help="Create and inspect the lake's Delta tables (contracts in schemas/).", no_args_is_help=True)


def _known_table(name: str) -> str:
    from data_platform.contracts import ContractError, contract

    try:
        return contract(name).name
    except ContractError as err:
        fail(str(err))


@tables_app.command("init")
def init(
    catalog: bool = typer.Option(
        False, "--catalog",
        help="Also name the tables in the Spark catalog now (starts Spark). Without it the next Spark "
        "session names them (`codemill sql`, every job), and tables are created without a JVM.",
    ),
) -> None:
    """Create every database and table of the design (idempotent; adds new contract columns).

    Tables are created with delta-rs, in a second or two. Spark starts only to upgrade tables an
    earlier release made (or with --catalog).
    """
    from data_platform.lake import init_needs_spark, init_tables

    config = STATE.config
    spark = STATE.spark() if catalog or init_needs_spark(config) else None
    results = init_tables(spark, config)
    for result in results:
        typer.echo(f"{result.name:<24} {result.state:<10} {result.path}")
    typer.echo(f"lake: {config.lake.root}")
    if spark is None:
        typer.echo("catalog names (bronze.files …): given by the next Spark session; `codemill sql` answers now")


@tables_app.command("migrate")
def migrate(
    dry_run: bool = typer.Option(False, "--dry-run", help="List the differences; change nothing (no Spark)."),
) -> None:
    """Upgrade a lake made by an earlier release to the current contracts, in place.

    First moves data this release keeps elsewhere (restricted tables under <lake>/restricted/,
    raw content out of bronze.files into bronze.file_contents; rows counted, never lost), then
    creates missing tables and adds the nullable columns contracts gained (old rows read null),
    recording each table's contract version. A dropped or retyped column is refused, with what
    to do instead: data is never dropped or reinterpreted. Every job also does this for the
    tables it writes, on its first write.
    """
    from data_platform.lake import migrate_lake, plan_lake

    config = STATE.config
    moved = _layout_steps(config, dry_run)
    plans = plan_lake(config, skip=moved if dry_run else ())
    for plan in plans:
        if plan.refused:
            typer.secho(f"{plan.name:<24} refused: {'; '.join(plan.refused)}", fg=typer.colors.RED)
        elif plan.current:
            typer.echo(f"{plan.name:<24} up to date")
        else:
            typer.echo(f"{plan.name:<24} {'would ' if dry_run else ''}{'; '.join(plan.changes())}")
    pending = [plan for plan in plans if not plan.current and not plan.refused]
    if pending and not dry_run:
        migrate_lake(STATE.spark(), config, pending)
    verb = "to change" if dry_run else "changed"
    typer.echo(f"lake: {config.lake.root}: {len(pending) + len(moved)} table(s) {verb}, "
               f"{sum(1 for p in plans if p.refused)} refused")
    refused = [plan for plan in plans if plan.refused]
    if refused:
        fail(refused[0].refusal() + (f" ({len(refused) - 1} more table(s) refused, listed above)"
                                     if len(refused) > 1 else ""))


def _layout_steps(config, dry_run: bool) -> set[str]:
    """Moves and splits of this release (data_platform.lake_moves), listed and (unless dry) applied.

    Returns the tables they rewrite or create, which a dry run leaves out of the column plans.
    """
    from data_platform.lake_moves import CONTENTS_TABLE, apply_moves, pending_moves
    from data_platform.migrations import MigrationRefused

    try:
        moves = pending_moves(config)
    except MigrationRefused as err:
        fail(str(err))
    for move in moves:
        typer.echo(f"{move.table:<24} {'would ' if dry_run else ''}{move.describe()}")
    if moves and not dry_run:
        apply_moves(STATE.spark(), config, moves)
    return {move.table for move in moves} | ({CONTENTS_TABLE} if any(m.kind == "split" for m in moves) else set())


@tables_app.command("docs")
def docs() -> None:
    """Print the column reference of every table (Markdown), as kept in docs/tables.md."""
    from data_platform.contracts import columns_markdown

    typer.echo(columns_markdown(), nl=False)


@tables_app.command("list")
def list_tables() -> None:
    """Every contract table with its Delta version and row count (read with delta-rs, no Spark)."""
    import pyarrow as pa

    from data_platform.contracts import all_contracts
    from data_platform.lake import is_delta_table
    from data_platform.storage import delta_table

    config = STATE.config
    typer.echo(f"{'table':<24} {'version':>7} {'rows':>10}  description")
    for name, table in all_contracts().items():
        path = config.lake.table_path(name)
        if is_delta_table(path):
            delta = delta_table(str(path))
            # delta-rs returns an arro3 table; pyarrow reads it through the Arrow C interface.
            actions = pa.table(delta.get_add_actions(flatten=True))
            rows = sum(count or 0 for count in actions.column("num_records").to_pylist())
            version, count = str(delta.version()), str(rows)
        else:
            version, count = "-", "-"
        summary = " ".join(table.description.split())[:60]
        typer.echo(f"{name:<24} {version:>7} {count:>10}  {summary}")


@tables_app.command("describe")
def describe(table: str = typer.Argument(..., help="Table name, e.g. silver.files")) -> None:
    """Columns, types, nullability and descriptions from the contract, plus the table's location."""
    from data_platform.contracts import contract

    name = _known_table(table)
    spec = contract(name)
    typer.echo(f"{spec.name}  (keys: {', '.join(spec.keys)}"
               f"{'; partitioned by ' + ', '.join(spec.partition_by) if spec.partition_by else ''})")
    typer.echo(" ".join(spec.description.split()))
    if spec.restricted:
        typer.secho("RESTRICTED: holds raw, unredacted data", fg=typer.colors.YELLOW)
    typer.echo(f"location: {STATE.config.lake.table_path(name)}\n")
    width = max(len(c.name) for c in spec.columns)
    for column in spec.columns:
        null = "null" if column.nullable else "not null"
        typer.echo(f"  {column.name:<{width}}  {column.type:<20} {null:<8}  {column.description}")


@tables_app.command("history")
def history(
    table: str = typer.Argument(..., help="Table name, e.g. gold.training_corpus"),
    limit: int = typer.Option(20, help="Newest N commits."),
) -> None:
    """Delta commit history: version, time, operation and its metrics."""
    from data_platform.lake import is_delta_table
    from data_platform.storage import delta_table

    name = _known_table(table)
    path = STATE.config.lake.table_path(name)
    if not is_delta_table(path):
        fail(f"{name} does not exist yet at {path}; run `codemill tables init`")
    for commit in delta_table(str(path)).history(limit):
        metrics = commit.get("operationMetrics") or {}
        shown = ", ".join(f"{k}={v}" for k, v in sorted(metrics.items()) if k.startswith("num"))[:100]
        when = commit.get("timestamp")
        stamp = dt.datetime.fromtimestamp(when / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if when else "?"
        typer.echo(f"v{commit.get('version', '?'):<5} {stamp}  {commit.get('operation', '?'):<18} {shown}")


def register(app: typer.Typer) -> None:
    app.add_typer(tables_app, name="tables")
