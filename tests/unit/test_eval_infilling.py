"""Infilling tasks from HumanEval: coverage, splicing, determinism, versioning; bootstrap intervals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from training.evaluation.infill_trivial import TRIVIAL_TASKS
from training.evaluation.infilling import (
    MULTI_LINE,
    SINGLE_LINE,
    MaskedBlock,
    infill_tasks,
    load_infill_tasks,
    multi_line_blocks,
    single_line_blocks,
    split_solution,
    task_set_version,
)
from training.evaluation.problems import load_problems, program, submission
from training.evaluation.stats import bootstrap_interval


@pytest.fixture(scope="module")
def problems():
    return load_problems("humaneval")


def test_single_line_tasks_mask_every_canonical_line_exactly_once(problems):
    tasks = infill_tasks(problems, SINGLE_LINE, drop_trivial=False)
    # HumanEval-Infilling (Bavarian et al. 2022) reports 1,033 single-line and 5,815 multi-line tasks.
    assert len(tasks) == 1033
    masked: dict[str, list[int]] = {}
    for task in tasks:
        masked.setdefault(task.source_task_id, []).append(int(task.task_id.rsplit("/L", 1)[1]))
    for problem in problems:
        lines = problem.canonical_solution.split("\n")
        expected = [number for number, line in enumerate(lines) if line.strip()]
        assert masked[problem.task_id] == expected, problem.task_id
        for number in expected:
            task = next(t for t in tasks if t.task_id == f"{problem.task_id}/L{number}")
            assert task.canonical_solution == lines[number]


@pytest.mark.parametrize("benchmark", [SINGLE_LINE, MULTI_LINE])
def test_prefix_middle_suffix_splice_back_to_the_canonical_program(problems, benchmark):
    by_id = {problem.task_id: problem for problem in problems}
    tasks = infill_tasks(problems, benchmark, drop_trivial=False)
    assert len(tasks) == (1033 if benchmark == SINGLE_LINE else 5815)
    for task in tasks:
        original = by_id[task.source_task_id]
        assert program(task, task.canonical_solution) == original.prompt + original.canonical_solution
        assert task.canonical_solution.strip() and "\n" not in task.canonical_solution[-1:]
        assert task.prompt.endswith("\n") and (task.suffix == "" or task.suffix.startswith("\n"))
        # The tests' helpers (HumanEval/32's poly) come from the original prompt, not the model.
        assert submission(task, "").prelude == original.prompt
        assert task.unit == original.task_id


def test_blocks_start_and_end_on_code_and_keep_inner_blank_lines():
    solution = "    a = 1\n\n    b = 2\n    return a + b\n"
    assert [b.label() for b in single_line_blocks(solution)] == ["L0", "L2", "L3"]
    assert [b.label() for b in multi_line_blocks(solution)] == ["L0", "L0-L2", "L0-L3", "L2", "L2-L3", "L3"]
    prefix, middle, suffix = split_solution("def f():\n", solution, MaskedBlock(0, 2))
    assert (prefix, middle, suffix) == ("def f():\n", "    a = 1\n\n    b = 2", "\n    return a + b\n")


def test_generation_is_deterministic_and_versioned(problems):
    first = infill_tasks(problems[:10], MULTI_LINE)
    assert first == infill_tasks(problems[:10], MULTI_LINE)
    assert [t.task_id for t in load_infill_tasks(MULTI_LINE, 10)] == [t.task_id for t in first]
    version = task_set_version(MULTI_LINE, problems[:10])
    assert version == task_set_version(MULTI_LINE, problems[:10]) and version.startswith(f"{MULTI_LINE}/v")
    edited = [replace(problems[0], canonical_solution=problems[0].canonical_solution + "    pass\n"), *problems[1:10]]
    assert task_set_version(MULTI_LINE, edited) != version
    assert task_set_version(SINGLE_LINE, problems[:10]) != version


def test_trivial_tasks_are_real_tasks_and_are_dropped(problems):
    everything = {
        t.task_id for benchmark in (SINGLE_LINE, MULTI_LINE) for t in infill_tasks(problems, benchmark, False)
    }
    assert TRIVIAL_TASKS and TRIVIAL_TASKS <= everything
    kept = {t.task_id for benchmark in (SINGLE_LINE, MULTI_LINE) for t in infill_tasks(problems, benchmark)}
    assert not kept & TRIVIAL_TASKS and len(kept) == len(everything) - len(TRIVIAL_TASKS)


def test_unknown_benchmark_and_missing_solution_are_errors(problems):
    with pytest.raises(ValueError, match="not an infilling benchmark"):
        infill_tasks(problems, "humaneval")
    with pytest.raises(ValueError, match="no canonical solution"):
        infill_tasks([replace(problems[0], canonical_solution="")], SINGLE_LINE)


def test_bootstrap_resamples_units_not_tasks():
    # One problem with 9 passing tasks, nine with one failing task each: tasks say 0.5,
    # but only 10 independent problems were observed, so the interval must be wide.
    by_unit = {"p0": [1.0] * 9, **{f"p{i}": [0.0] for i in range(1, 10)}}
    interval = bootstrap_interval(by_unit, seed=1)
    assert interval["units"] == 10 and interval["low"] < 0.2 and interval["high"] > 0.7
    assert bootstrap_interval(by_unit, seed=1) == interval  # seeded
    assert bootstrap_interval({"a": [1.0, 1.0], "b": [1.0]}) | {} == {
        "low": 1.0, "high": 1.0, "level": 0.95, "units": 2, "resamples": 1000
    }
    assert bootstrap_interval({}) is None
