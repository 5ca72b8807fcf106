"""One evaluation session: resolve models, measure held-out loss and pass@k, store, report.

This is the recipe behind ``codemill eval``: it wires the components of this package in
order, one model at a time, so at most one model is in memory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from data_platform import storage
from data_platform.ops.runs import new_run_id
from data_platform.storage import Location
from training.config import TrainingConfig
from training.evaluation import line_completion, results
from training.evaluation.endpoint import Endpoint
from training.evaluation.generate import SamplingSettings
from training.evaluation.generators import EndpointGenerator, LocalGenerator
from training.evaluation.heldout import HeldoutSettings, heldout_loss
from training.evaluation.infill_generate import fim_format_for
from training.evaluation.infilling import is_infill, load_infill_tasks, task_set_version, task_type
from training.evaluation.lineage import ModelRef, contamination_warnings, heldout_target, resolve_model
from training.evaluation.precision import compute_in, resolve_precision, weights_for_generation
from training.evaluation.problems import benchmark_name, load_problems, read_completions
from training.evaluation.report import write_report
from training.evaluation.sandbox import SandboxLimits, SandboxSettings, choose_backend
from training.evaluation.scoring import group_completions, score_completions
from training.evaluation.stats import pass_at_1_interval

log = logging.getLogger(__name__)
UNSANDBOXED = (
    "completions ran WITHOUT a sandbox (--unsafe-no-sandbox): the program could read, write and "
    "reach anything this user can, and could have forged its own verdict"
)


@dataclass
class EvalRequest:
    models: list[str] = field(default_factory=list)
    completions_file: str | None = None
    heldout: bool = True
    pass_at_k: bool = True
    table_version: int | None = None
    endpoint: str | None = None  # base URL of a `codemill serve` (OpenAI-compatible) server


@dataclass
class EvalOutcome:
    session_id: str
    report: dict
    json_path: Location  # local paths, or URIs when the reports are on object storage
    html_path: Location
    rows_written: int


def sandbox_settings(config: TrainingConfig) -> SandboxSettings:
    e = config.eval
    limits = SandboxLimits(
        wall_seconds=e.sandbox_wall_seconds,
        cpu_seconds=e.sandbox_cpu_seconds,
        memory_mb=e.sandbox_memory_mb,
        file_mb=e.sandbox_file_mb,
        tmpfs_mb=e.sandbox_tmpfs_mb,
        max_processes=e.sandbox_max_processes,
        output_bytes=e.sandbox_output_bytes,
    )
    return SandboxSettings(
        limits, e.workers, e.sandbox_python, e.sandbox_uid_base, e.sandbox_bwrap, e.unsafe_no_sandbox
    )


def _load(ref: ModelRef, device: str):
    # The training package owns model loading (tiny, smollm2, directories, hub ids).
    import torch

    from training.allocator import tune_this_process
    from training.model import load_model_and_tokenizer

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        # Held-out loss and prompts allocate full logits per forward: keep them in the heap
        # rather than fault them in again each time (the demo's evaluation: 128 s -> 118 s).
        tune_this_process()
    model, tokenizer = load_model_and_tokenizer(ref.load_spec)
    return model.to(device), tokenizer


def load_benchmark(benchmark: str, limit: int) -> list:
    """Problems (or infilling tasks) of ``benchmark``; ``limit`` counts HumanEval problems."""
    if is_infill(benchmark):
        return load_infill_tasks(benchmark, limit)
    problems = load_problems(benchmark)
    return problems[:limit] if limit else problems


def _generate(generator, problems: list, e) -> dict[str, list[str]]:
    sampling = SamplingSettings(
        e.samples, e.temperature, e.top_p, e.max_new_tokens, e.generation_batch_size, e.seed
    )
    if not is_infill(e.benchmark):
        return generator.completions(problems, sampling)
    return generator.infills(problems, sampling, task_type(e.benchmark))


def _endpoint_ref(endpoint: Endpoint) -> tuple[ModelRef, dict]:
    """The served model as a ModelRef with the lineage its /v1/models card reports."""
    card = endpoint.card()
    lineage = card.get("codemill") or {}
    version = lineage.get("gold_table_version")
    ref = ModelRef(
        endpoint.url, endpoint.url, lineage.get("run_id"), lineage.get("gold_table"),
        int(version) if version is not None else None, lineage.get("base_model"),
    )
    return ref, card


def _line_spans(config: TrainingConfig, target) -> list:
    e = config.eval
    documents = line_completion.stream_test_documents(target.table_path, target.table_version)
    return line_completion.sample_spans(documents, e.line_documents, e.seed)


def _line_notice(target, spans: list, warnings: list[str]) -> dict | None:
    if target is None:
        warnings.append("line-completion: no gold test split (no published gold.training_corpus version): skipped")
        return None
    if not spans:
        warnings.append(f"line-completion: gold version {target.table_version} has no test-split lines: skipped")
    languages = sorted({span.language for span in spans})
    kinds = {kind: sum(span.kind == kind for span in spans) for kind in (line_completion.LINE, line_completion.SPAN)}
    return {"table_version": target.table_version, "spans": len(spans), "languages": languages, "tasks": kinds}


def _complete_lines(generator, spans: list, e):
    sampling = SamplingSettings(1, 0.0, e.top_p, e.line_max_new_tokens, e.generation_batch_size, e.seed)
    return line_completion.complete_lines(generator, spans, sampling, e.seed, e.span_max_new_tokens)


def _new_session_id() -> str:
    return new_run_id("eval")


def _unique_label(label: str, earlier: list[ModelRef]) -> str:
    taken = sum(ref.label == label for ref in earlier)
    return f"{label} #{taken + 1}" if taken else label


@dataclass
class _Session:
    """What every model of one evaluation session (one benchmark) is measured against."""

    config: TrainingConfig
    request: EvalRequest
    session_id: str
    started: datetime
    bench: str
    problems: list
    sandbox: SandboxSettings
    refs: list[ModelRef]
    endpoint: Endpoint | None
    target: object | None  # the gold version held-out loss and line completion read (lineage.heldout_target)
    spans: list
    report: dict
    endpoint_dtype: str | None = None  # the weights' dtype the endpoint's card reports
    seconds: float = 0.0  # time spent on this session (sessions share models and interleave)
    rows_written: int = 0

    @property
    def e(self):
        return self.config.eval


@dataclass
class _Model:
    """A model ready to be measured: weights loaded here, or a server reached through its API."""

    generator: object
    model: object | None  # None behind an endpoint; float32 weights held-out loss runs on
    tokenizer: object | None
    endpoint: str | None
    load_seconds: float
    generation_precision: str | None = None  # behind an endpoint: the dtype its card reports, if any


def evaluate(
    config: TrainingConfig, request: EvalRequest, say: Callable[[str], None] = log.info
) -> EvalOutcome:
    """Measure every requested model (one at a time) on eval.benchmark, store the rows, write the report."""
    return evaluate_benchmarks(config, request, [config.eval.benchmark], say)[0]


def evaluate_benchmarks(
    config: TrainingConfig, request: EvalRequest, benchmarks: list[str], say: Callable[[str], None] = log.info
) -> list[EvalOutcome]:
    """One session and report per benchmark; each model is loaded once and measured on all of them.

    Models are still loaded one at a time. Held-out loss does not depend on the benchmark, so
    only the first session measures it.
    """
    if len(benchmarks) > 1 and request.completions_file:
        raise ValueError("--completions scores the file of one benchmark: give a single --benchmark")
    sessions = [
        _open_session(_for_benchmark(config, bench), replace(request, heldout=request.heldout and not n))
        for n, bench in enumerate(benchmarks)
    ]
    plans = [_entries(session) for session in sessions]
    rows: list[dict] = []
    for index in range(len(sessions[0].refs)):
        # _entries lists a session's models in request order, or none when it can measure nothing.
        wanted = [(session, plan[index]) for session, plan in zip(sessions, plans, strict=True) if plan]
        if not wanted:
            continue
        ref, label = wanted[0][1]
        loaded = _open_model(wanted[0][0], ref, label, say)
        for session, (ref, label) in wanted:
            rows += _record(session, index, ref, label, say, loaded)
            loaded.load_seconds = 0.0  # paid once, by the first benchmark
        del loaded  # before the next model is loaded
    for session, plan in zip(sessions, plans, strict=True):
        if plan and plan[-1][0] is None:  # a completions file (one benchmark only)
            rows += _record(session, len(plan) - 1, None, plan[-1][1], say, None)
    results.store(config, rows)
    return [_write(session) for session in sessions]


def _for_benchmark(config: TrainingConfig, bench: str) -> TrainingConfig:
    return config.model_copy(update={"eval": config.eval.model_copy(update={"benchmark": bench})})


def _record(session: _Session, index: int, ref: ModelRef | None, label: str, say, loaded: _Model | None) -> list[dict]:
    """Measure one model (or a completions file) in ``session``: report entry and stored rows."""
    tick = time.monotonic()
    entry, metric_rows = _evaluate_one(session, index, ref, label, say, loaded)
    session.report.setdefault("metrics", []).extend({**row, "label": label} for row in metric_rows)
    target = session.target
    rows = results.with_lineage(
        metric_rows,
        eval_id=entry["eval_id"],
        session_id=session.session_id,
        model_path=entry["model_path"],
        training_run_id=entry.get("training_run_id"),
        table_version=entry.get("table_version"),
        eval_table_version=target.table_version if target and ref is not None else None,
        evaluated_at=session.started,
    )
    session.report["models"].append(entry)
    session.seconds += time.monotonic() - tick + (loaded.load_seconds if loaded else 0.0)
    session.rows_written += len(rows)
    return rows


def _write(session: _Session) -> EvalOutcome:
    report = session.report
    report["wall_seconds"] = round(session.seconds, 2)
    json_path, html_path = write_report(report, report_root(session.config) / session.session_id)
    return EvalOutcome(session.session_id, report, json_path, html_path, session.rows_written)


def report_root(config: TrainingConfig) -> Location:
    """Where evaluation reports go: eval.report_dir (a path or a URI), else ``<lake>/_reports/eval``."""
    if config.eval.report_dir:
        return storage.as_location(os.path.expanduser(config.eval.report_dir))
    return config.lake.root / "_reports" / "eval"


def _open_session(config: TrainingConfig, request: EvalRequest) -> _Session:
    """Benchmark tasks, models and the gold version to read, checked before any model is loaded."""
    opening = time.monotonic()
    e = config.eval
    bench = benchmark_name(e.benchmark)
    lines = bench == line_completion.BENCHMARK
    if lines and request.completions_file:
        raise ValueError("line-completion scores a model's own completions: give --model, not --completions")
    wanted = (request.pass_at_k or request.completions_file) and not lines
    problems = load_benchmark(e.benchmark, e.limit) if wanted else []
    sandbox = sandbox_settings(config)
    if problems and (request.completions_file or (request.pass_at_k and request.models)):
        # Refuse (SandboxUnavailable) before a model is loaded, not after it has generated.
        choose_backend(sandbox)
    refs = [resolve_model(config, spec) for spec in request.models]
    endpoint, endpoint_dtype = None, None
    if request.endpoint:
        key = e.endpoint_api_key or os.environ.get("CODEMILL_API_KEY") or None
        endpoint = Endpoint(
            request.endpoint, key, e.endpoint_model, concurrency=e.endpoint_concurrency, max_n=e.endpoint_max_n
        )
        ref, card = _endpoint_ref(endpoint)
        refs.append(ref)
        endpoint_dtype = card.get("codemill", {}).get("dtype")  # None from a server before it said
    target = heldout_target(config, refs, request.table_version) if (request.heldout or lines) and refs else None
    spans = _line_spans(config, target) if lines and target is not None else []
    started = datetime.now(UTC)
    session = _Session(config, request, _new_session_id(), started, bench, problems, sandbox, refs,
                       endpoint, target, spans, {}, endpoint_dtype)
    session.report = _new_report(session, lines)
    session.seconds = time.monotonic() - opening
    return session


def _new_report(session: _Session, lines: bool) -> dict:
    target, e = session.target, session.e
    report: dict = {
        "session_id": session.session_id,
        "created_at": session.started.isoformat(),
        "benchmark": session.bench,
        "task_type": task_type(session.bench),
        "tasks_version": task_set_version(session.bench, session.problems)
        if is_infill(session.bench) and session.problems else None,
        "models": [],
        "settings": e.model_dump(mode="json"),
        "warnings": [],
        "heldout": None,
    }
    if session.request.heldout and session.refs and target is None:
        report["warnings"].append("no published gold.training_corpus version: held-out loss skipped")
    if lines:
        report["line_completion"] = _line_notice(target, session.spans, report["warnings"])
    if target is not None:
        report["heldout"] = {
            "table_path": target.table_path,
            "table_version": target.table_version,
            "splits": list(e.heldout_splits),
            "reason": target.reason,
            "published": target.published,
        }
        report["warnings"].extend(target.warnings)
    return report


def _entries(session: _Session) -> list[tuple[ModelRef | None, str]]:
    """(model or None for a completions file, label) to evaluate; no model when nothing can be measured."""
    request = session.request
    entries: list[tuple[ModelRef | None, str]] = [
        (ref, _unique_label(ref.label, session.refs[:i])) for i, ref in enumerate(session.refs)
    ]
    measurable = session.spans or (session.target is not None and request.heldout) or (
        session.problems and request.pass_at_k)
    if not measurable:
        entries = []  # nothing to measure a model on (warnings say why): do not load one
    if request.completions_file:
        entries.append((None, request.completions_file))
    return entries


def _evaluate_one(
    session: _Session, index: int, ref: ModelRef | None, label: str, say, loaded: _Model | None
) -> tuple[dict, list[dict]]:
    """(report entry, metric rows) of one model, or of a completions file when ``ref`` is None."""
    entry: dict = {"label": label, "eval_id": f"{session.session_id}-{index}", "warnings": [], "seconds": {}}
    if ref is None:
        entry.update(model_path=label)
        metric_rows: list[dict] = []
        completions = group_completions(session.problems, read_completions(Path(label)))
    else:
        metric_rows, completions = _measure_model(session, ref, label, entry, say, loaded)
    if completions:
        metric_rows += _score(session, entry, completions, say)
    return entry, metric_rows


def _open_model(session: _Session, ref: ModelRef, label: str, say) -> _Model:
    """Load the model's weights, or reach the server when ``ref`` is the session's endpoint."""
    tick = time.monotonic()
    endpoint = session.endpoint
    if endpoint is not None and ref.spec == endpoint.url:
        return _Model(EndpointGenerator(endpoint), None, None, endpoint.base, 0.0, session.endpoint_dtype)
    say(f"loading {label} ...")
    model, tokenizer = _load(ref, session.e.device)
    precision = resolve_precision(session.e.generation_precision, next(model.parameters()).device.type)
    generating = weights_for_generation(model, precision)
    generator = LocalGenerator(generating, tokenizer, fim_format_for(ref.load_spec, session.e.fim))
    return _Model(generator, model, tokenizer, None, round(time.monotonic() - tick, 2), precision)


def _measure_model(
    session: _Session, ref: ModelRef, label: str, entry: dict, say, loaded: _Model
) -> tuple[list[dict], dict]:
    """Line completion, held-out loss and generation for pass@k of one loaded (or reached) model."""
    e, target, request = session.e, session.target, session.request
    entry.update(model_path=ref.model_path, training_run_id=ref.training_run_id, base_model=ref.base_model,
                 table_version=ref.table_version)
    entry["warnings"] = contamination_warnings(session.config, ref, session.bench) if session.problems else []
    entry["seconds"]["load"] = loaded.load_seconds
    generator, model, tokenizer = loaded.generator, loaded.model, loaded.tokenizer
    if loaded.generation_precision is not None:
        entry["generation_precision"] = loaded.generation_precision
    if loaded.endpoint is not None:
        entry["endpoint"] = loaded.endpoint
        if request.heldout and target is not None:
            entry["warnings"].append("held-out loss needs the weights: not measured through an endpoint")
    metric_rows: list[dict] = []
    if session.spans:
        tick = time.monotonic()
        say(f"line completion by {label} on {len(session.spans)} test-split spans, with and without suffix ...")
        line_rows, entry["line_completion"] = _complete_lines(generator, session.spans, e)
        entry["seconds"]["line_completion"] = round(time.monotonic() - tick, 2)
        metric_rows += results.line_rows(line_rows, target.table_version, e.seed, loaded.generation_precision)
    if target is not None and request.heldout and model is not None:
        tick = time.monotonic()
        say(f"held-out loss of {label} on gold version {target.table_version} ...")
        settings = HeldoutSettings(tuple(e.heldout_splits), e.heldout_max_documents, e.heldout_max_tokens,
                                   e.heldout_batch_size)
        device_type = next(model.parameters()).device.type
        entry["heldout_precision"] = resolve_precision(e.heldout_precision, device_type)
        with compute_in(entry["heldout_precision"], device_type):
            held = heldout_loss(model, tokenizer, target.table_path, target.table_version, settings)
        entry["heldout"] = held.summary()
        entry["seconds"]["heldout"] = round(time.monotonic() - tick, 2)
        metric_rows += results.heldout_rows(
            entry["heldout"], "+".join(e.heldout_splits), entry["heldout_precision"]
        )
    completions = {}
    if session.problems and request.pass_at_k:
        tick = time.monotonic()
        say(f"generating for {len(session.problems)} {session.bench} problems with {label} ...")
        completions = _generate(generator, session.problems, e)
        entry["seconds"]["generate"] = round(time.monotonic() - tick, 2)
    return metric_rows, completions


def _score(session: _Session, entry: dict, completions: dict, say) -> list[dict]:
    """Run the completions in the sandbox; pass@k, confidence and per-problem verdicts into ``entry``."""
    e, bench, problems = session.e, session.bench, session.problems
    tick = time.monotonic()
    executions = sum(map(len, completions.values()))
    say(f"running {executions} completions in the sandbox ...")
    ks = [k for k in e.ks if k <= min(map(len, completions.values()))]
    score = score_completions(bench, problems, completions, session.sandbox, ks)
    entry["seconds"]["execute"] = round(time.monotonic() - tick, 2)
    entry["executions_per_second"] = round(executions / max(entry["seconds"]["execute"], 1e-3), 2)
    units = {p.task_id: p.unit for p in problems}
    entry["confidence"] = pass_at_1_interval(score.outcomes, units, e.seed)
    entry.update(
        pass_at_k={str(k): v for k, v in score.pass_at_k.items()},
        problems=score.num_problems,
        sandbox=score.sandbox,
        per_problem=score.details(),
        completions={task: batch for task, batch in completions.items()},
    )
    if score.sandbox != "bwrap":
        entry["warnings"].append(UNSANDBOXED)
    broken = sum(r.startswith("sandbox error") for o in score.outcomes for r in o.results)
    if broken:
        entry["warnings"].append(
            f"{broken} completion(s) could not be judged (sandbox error, counted as failed): "
            "see per_problem in the report"
        )
    details = {
        "samples": e.samples,
        "temperature": e.temperature,
        "solved": [o.task_id for o in score.outcomes if o.num_correct],
        "sandbox": score.sandbox,
        "tasks_version": session.report["tasks_version"],
        "ci95": entry["confidence"],
        "precision": entry.get("generation_precision"),  # None: a completions file, or a server that does not say
    }
    return results.pass_at_k_rows(bench, score.pass_at_k, score.num_problems, details, task_type(bench))
