"""`codemill plan`: predict wall time and core-hours per stage for a corpus on a cluster."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codemill.cli.context import fail

THE_STACK_V2_TB = 67.5


def _hours(value: float | None) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return "no GPUs"
    if value < 1:
        return f"{value * 60:,.1f} min"
    return f"{value:,.1f} h" if value < 48 else f"{value / 24:,.1f} d"


def _bytes(value: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value:,.0f} B"


def table_lines(estimates, rates: dict, cluster) -> list[str]:
    header = f"{'stage':<22} {'reads':>9} {'core-h':>10} {'GPU-h':>9} {'wall':>10}  {'on':<14} growth"
    lines = [header, "-" * len(header)]
    for e in estimates:
        growth = "" if e.growth_exponent is None else f"n^{e.growth_exponent:.2f}"
        if e.superlinear:
            growth += f"  SUPERLINEAR: {_hours(e.wall_hours_if_growth_holds)} if it held"
        wall = _hours(e.wall_hours) if e.runs_on != "training CPUs" else "(overlap)"
        lines.append(f"{e.stage:<22} {_bytes(e.input_bytes):>9} "
                     f"{'-' if e.core_hours is None else f'{e.core_hours:,.0f}':>10} "
                     f"{'-' if e.gpu_hours is None else f'{e.gpu_hours:,.0f}':>9} {wall:>10}  {e.runs_on:<14} {growth}")
    spark = [e for e in estimates if e.runs_on == "spark"]
    spark_wall, spark_core = sum(e.wall_hours for e in spark), sum(e.core_hours for e in spark)
    lines.append("-" * len(header))
    lines.append(f"{'curation (Spark)':<22} {'':>9} {spark_core:>10,.0f} {'':>9} {_hours(spark_wall):>10}  "
                 f"on {cluster.spark_cores:,} cores")
    return lines


def sources_lines(rates: dict) -> list[str]:
    lines = ["rates (benchmarks/rates.json):"]
    for stage, entry in sorted(rates.items()):
        if "mb_per_core_second" in entry:
            value = f"{entry['mb_per_core_second']} MB/core-s"
        elif "tokens_per_gpu_second" in entry:
            value = f"{entry['tokens_per_gpu_second']:,.0f} tokens/GPU-s"
        else:
            value = f"gold {entry.get('gold_fraction_of_bytes')} of bytes"
        command = str(entry.get("command", "?"))
        command = command if len(command) <= 60 else command[:57] + "..."
        lines.append(f"  {stage:<22} {value:>24}  {entry.get('date', '?'):<10}  {command}")
    return lines


def plan(
    corpus_tb: float = typer.Option(THE_STACK_V2_TB, "--corpus-tb", min=0.000001,
                                    help="Raw corpus size in TB before dedup (The Stack v2: 67.5)."),
    spark_cores: int = typer.Option(512, "--spark-cores", min=1,
                                    help="Spark executor cores (e.g. 16 nodes x 32 cores = 512)."),
    gpus: int = typer.Option(32, "--gpus", min=0, help="Training GPUs (e.g. 4 nodes x 8 = 32)."),
    gold_fraction: float = typer.Option(None, "--gold-fraction", min=0.0001, max=1.0,
                                        help="Share of raw bytes kept in gold (default: measured on the "
                                             "benchmark corpus; The Stack v2 kept 32.1 of 67.5 TB after dedup)."),
    tokens_per_byte: float = typer.Option(None, "--tokens-per-byte", min=0.0001,
                                          help="Training tokens per byte of gold text (default: measured)."),
    epochs: float = typer.Option(1.0, "--epochs", min=0.0001, help="Passes over gold during training."),
    rates_path: Path = typer.Option(None, "--rates", help="Rates file (default: benchmarks/rates.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimates as JSON."),
) -> None:
    """Predict wall time and core-hours per stage, from the per-core rates benchmarks/ measured.

    Each Spark stage costs its input bytes divided by its measured MB per core-second, spread over --spark-cores with every core busy (so wall times are lower bounds). Training takes gold tokens over --gpus at the measured tokens per GPU-second.

    Stages whose measured cost grew faster than linearly (benchmarks/scaling.py) are flagged, with what their time becomes if that growth held up to this size.

    Refresh the rates with benchmarks/scaling.py --write-rates, benchmarks/tokenise.py --write-rates and, on a GPU machine, WRITE_RATES=1 bash benchmarks/gpu_check.sh. Comparison with published pipelines: docs/scaling.md.

    Example: codemill plan --corpus-tb 67.5 --spark-cores 1024 --gpus 64 --gold-fraction 0.48
    """
    from data_platform import capacity

    try:
        rates = capacity.load_rates(rates_path or capacity.RATES_PATH)
        workload = capacity.default_workload(rates, corpus_tb, gold_fraction, tokens_per_byte, epochs)
        cluster = capacity.Cluster(spark_cores, gpus)
        estimates = capacity.plan(rates, workload, cluster)
    except (capacity.RatesError, ValueError) as err:
        fail(f"plan: {err}")
    if as_json:
        typer.echo(json.dumps({"corpus_bytes": workload.corpus_bytes, "gold_bytes": workload.gold_bytes,
                               "train_tokens": workload.train_tokens, "spark_cores": spark_cores, "gpus": gpus,
                               "stages": [e.as_dict() for e in estimates]}, indent=2))
        return
    typer.echo(f"corpus {_bytes(workload.corpus_bytes)} raw → gold {_bytes(workload.gold_bytes)} "
               f"({workload.gold_fraction:.0%}) → {workload.train_tokens / 1e9:,.1f} B training tokens "
               f"({workload.tokens_per_byte:.3f} tokens/byte, {epochs:g} epoch(s))")
    typer.echo(f"cluster: {spark_cores:,} Spark cores, {gpus:,} GPUs; wall times assume every core busy (lower bounds)\n")
    for line in table_lines(estimates, rates, cluster):
        typer.echo(line)
    typer.echo("")
    for e in estimates:
        if e.runs_on != "spark":
            typer.echo(f"{e.stage}: {e.description}")
    flagged = [e.stage for e in estimates if e.superlinear]
    if flagged:
        typer.echo(f"superlinear (measured growth exponent > {capacity.SUPERLINEAR_EXPONENT}): {', '.join(flagged)}; "
                   "their linear times are lower bounds (docs/scaling.md).")
    else:
        typer.echo("no stage's measured cost grew faster than linearly.")
    for line in sources_lines(rates):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
