"""Benchmark files, completions files, program assembly and completion truncation."""

from __future__ import annotations

import gzip
import json

import pytest

from training.evaluation.generate import (
    STOP_SEQUENCES,
    completion_after,
    split_trailing_whitespace,
    truncate_at_stop,
)
from training.evaluation.problems import (
    ProblemFileError,
    benchmark_name,
    check_program,
    load_problems,
    read_completions,
)
from training.evaluation.scoring import group_completions

PROBLEM = {
    "task_id": "Mine/0",
    "prompt": 'def double(x):\n    """Twice x."""\n',
    "canonical_solution": "    return 2 * x\n",
    "test": "def check(candidate):\n    assert candidate(3) == 6\n",
    "entry_point": "double",
}


def write_jsonl(path, rows, gz=False):
    text = "".join(json.dumps(row) + "\n" for row in rows) + "\n"
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_humaneval_ships_164_problems_with_tests():
    problems = load_problems("humaneval")
    assert len(problems) == 164
    assert len({p.task_id for p in problems}) == 164
    assert problems[0].task_id == "HumanEval/0"
    assert all(p.canonical_solution and "def check" in p.test and p.entry_point for p in problems)


@pytest.mark.parametrize("gz", [False, True])
def test_user_problem_files_in_humaneval_format(tmp_path, gz):
    path = write_jsonl(tmp_path / ("mine.jsonl.gz" if gz else "mine.jsonl"), [PROBLEM], gz)
    (problem,) = load_problems(str(path))
    assert problem.entry_point == "double" and problem.canonical_solution.strip() == "return 2 * x"
    assert benchmark_name(str(path)) == path.name
    assert benchmark_name("humaneval") == "humaneval"


def test_problem_file_errors_name_the_problem(tmp_path):
    broken = {key: value for key, value in PROBLEM.items() if key != "test"}
    with pytest.raises(ProblemFileError, match="Mine/0.*test"):
        load_problems(str(write_jsonl(tmp_path / "a.jsonl", [broken])))
    with pytest.raises(ProblemFileError, match="twice"):
        load_problems(str(write_jsonl(tmp_path / "b.jsonl", [PROBLEM, PROBLEM])))
    (tmp_path / "c.jsonl").write_text("{not json\n")
    with pytest.raises(ProblemFileError, match="c.jsonl:1"):
        load_problems(str(tmp_path / "c.jsonl"))
    with pytest.raises(ProblemFileError, match="neither"):
        load_problems(str(tmp_path / "missing.jsonl"))


def test_check_program_runs_the_tests_on_the_entry_point():
    (problem,) = [load_problems("humaneval")[0]]
    program = check_program(problem, problem.canonical_solution)
    assert program.startswith(problem.prompt + problem.canonical_solution)
    assert program.rstrip().endswith(f"check({problem.entry_point})")
    compile(program, "program.py", "exec")  # syntactically whole; it only ever runs in the sandbox


def test_completions_file_and_grouping(tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"task_id": "HumanEval/1", "completion": "a"},
            {"task_id": "HumanEval/0", "completion": "b"},
            {"task_id": "HumanEval/1", "completion": "c"},
        ],
    )
    pairs = read_completions(path)
    problems = load_problems("humaneval")
    grouped = group_completions(problems, pairs)
    assert list(grouped) == ["HumanEval/0", "HumanEval/1"]  # problem order
    assert grouped["HumanEval/1"] == ["a", "c"]
    with pytest.raises(ValueError, match="unknown task ids: Nope/1"):
        group_completions(problems, [("Nope/1", "x")])
    write_jsonl(tmp_path / "bad.jsonl", [{"task_id": "HumanEval/0"}])
    with pytest.raises(ProblemFileError, match="completion"):
        read_completions(tmp_path / "bad.jsonl")


def test_completion_is_cut_where_the_function_ends():
    body = "    return x + 1\n"
    assert truncate_at_stop(body + "\n\ndef other():\n    pass\n") == body + "\n"
    assert truncate_at_stop(body + "\nif __name__ == '__main__':\n    main()") == body
    assert truncate_at_stop(body + "\nprint(f(2))") == body
    assert truncate_at_stop(body + "\n# tests\nassert f(1) == 2") == body
    assert truncate_at_stop(body) == body
    # Indented code that merely contains a stop word stays.
    nested = "    def helper():\n        return 1\n    return helper()\n"
    assert truncate_at_stop(nested) == nested
    assert all(stop.startswith("\n") for stop in STOP_SEQUENCES)


def test_generation_starts_after_the_stripped_prompt_and_maps_back():
    prompt = 'def f(x):\n    """Doc."""\n'
    stripped, whitespace = split_trailing_whitespace(prompt)
    assert (stripped, whitespace) == ('def f(x):\n    """Doc."""', "\n")
    generated = "\n    return x\n"
    completion = completion_after(whitespace, generated)
    assert completion == "    return x\n"
    assert prompt + completion == stripped + generated
    # A continuation that does not start with the stripped whitespace still lands on a new line.
    assert (prompt + completion_after(whitespace, "  return x")).endswith('"""\n  return x')
    assert completion_after("", "x") == "x"  # nothing was stripped
