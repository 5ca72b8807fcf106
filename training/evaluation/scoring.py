"""Functional correctness: run each completion against its problem's tests, then pass@k."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from training.evaluation.passk import mean_pass_at_k, reportable_ks
from training.evaluation.problems import Problem, submission
from training.evaluation.sandbox import ExecutionResult, SandboxSettings, run_submissions


@dataclass(frozen=True)
class ProblemOutcome:
    task_id: str
    results: tuple[str, ...]  # one sandbox verdict per completion ("passed", "failed: ...", ...)

    @property
    def num_samples(self) -> int:
        return len(self.results)

    @property
    def num_correct(self) -> int:
        return sum(result == "passed" for result in self.results)


@dataclass(frozen=True)
class BenchmarkScore:
    benchmark: str
    outcomes: tuple[ProblemOutcome, ...]
    pass_at_k: dict[int, float] = field(default_factory=dict)
    # Which sandbox judged the completions: "bwrap", or "none" (--unsafe-no-sandbox).
    sandbox: str = ""

    @property
    def num_problems(self) -> int:
        return len(self.outcomes)

    def details(self) -> list[dict]:
        return [
            {"task_id": o.task_id, "n": o.num_samples, "c": o.num_correct, "results": list(o.results)}
            for o in self.outcomes
        ]


def group_completions(problems: Sequence[Problem], pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Completions per task id, in problem order; unknown task ids are an error."""
    known = {problem.task_id for problem in problems}
    unknown = sorted({task_id for task_id, _ in pairs if task_id not in known})
    if unknown:
        raise ValueError(f"completions for unknown task ids: {', '.join(unknown[:5])}")
    grouped: dict[str, list[str]] = {}
    for task_id, completion in pairs:
        grouped.setdefault(task_id, []).append(completion)
    return {problem.task_id: grouped[problem.task_id] for problem in problems if problem.task_id in grouped}


def score_completions(
    benchmark: str,
    problems: Sequence[Problem],
    completions: dict[str, list[str]],
    settings: SandboxSettings | None = None,
    ks: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BenchmarkScore:
    """Execute every completion in the sandbox and estimate pass@k over the problems that have any."""
    by_id = {problem.task_id: problem for problem in problems}
    jobs = [(task_id, completion) for task_id, batch in completions.items() for completion in batch]
    submissions = [submission(by_id[task_id], completion) for task_id, completion in jobs]
    done = [0]

    def tick(_index: int, _result: ExecutionResult) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(submissions))

    executions = run_submissions(submissions, settings, on_result=tick)
    verdicts: dict[str, list[str]] = {task_id: [] for task_id in completions}
    for (task_id, _), execution in zip(jobs, executions, strict=True):
        verdicts[task_id].append(execution.result)
    outcomes = tuple(ProblemOutcome(task_id, tuple(results)) for task_id, results in verdicts.items())
    smallest = min((o.num_samples for o in outcomes), default=0)
    wanted = ks if ks is not None else reportable_ks(smallest)
    counts = [(o.num_samples, o.num_correct) for o in outcomes]
    pass_at = {k: value for k in wanted if (value := mean_pass_at_k(counts, k)) is not None}
    sandboxes = sorted({execution.sandbox for execution in executions})
    return BenchmarkScore(benchmark, outcomes, pass_at, "+".join(sandboxes))
