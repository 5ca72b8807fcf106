"""Infilling tasks whose tests pass with an empty middle (generated data; do not edit by hand).

Regenerate with ``python -m training.evaluation.infilling > ids.txt`` (judges an empty middle
for every single- and multi-line task in the sandbox) and bump ``TASKS_VERSION`` there.
"""

TRIVIAL_TASKS = frozenset(
    {
        "HumanEval/20/L0",
        "HumanEval/20/L8",
        "HumanEval/33/L0",
        "HumanEval/46/L6",
        "HumanEval/66/L0",
        "HumanEval/68/L0",
        "HumanEval/81/L16",
        "HumanEval/92/L4",
        "HumanEval/95/L8",
        "HumanEval/95/L18",
        "HumanEval/96/L6",
        "HumanEval/99/L3",
        "HumanEval/105/L6",
        "HumanEval/105/L7",
        "HumanEval/109/L3",
        "HumanEval/111/L7",
        "HumanEval/118/L5",
        "HumanEval/124/L1",
        "HumanEval/124/L6",
        "HumanEval/124/L10",
        "HumanEval/127/L3",
        "HumanEval/127/L5",
        "HumanEval/127/L6",
        "HumanEval/127/L8",
        "HumanEval/129/L1",
        "HumanEval/129/L9",
        "HumanEval/150/L5",
    }
)
