"""Infilling tasks whose tests pass with an empty middle (generated data; do not edit by hand).

55 multi-line tasks, 27 of them one line long (so also single-line tasks; ids are shared).
Found in 811 s on 2 cores (5,815 sandboxed runs); all other tasks fail with an empty middle.

Regenerate with ``python -m training.evaluation.infilling > ids.txt`` (judges an empty middle
for every single- and multi-line task in the sandbox) and bump ``TASKS_VERSION`` there.
"""

TRIVIAL_TASKS = frozenset(
    {
        "HumanEval/10/L0-L1",
        "HumanEval/20/L0",
        "HumanEval/20/L8",
        "HumanEval/33/L0",
        "HumanEval/46/L1-L2",
        "HumanEval/46/L6",
        "HumanEval/59/L1-L2",
        "HumanEval/66/L0",
        "HumanEval/68/L0",
        "HumanEval/76/L0-L1",
        "HumanEval/81/L6-L7",
        "HumanEval/81/L14-L15",
        "HumanEval/81/L14-L17",
        "HumanEval/81/L15-L16",
        "HumanEval/81/L16",
        "HumanEval/81/L16-L17",
        "HumanEval/89/L5-L6",
        "HumanEval/92/L4",
        "HumanEval/95/L8",
        "HumanEval/95/L14-L15",
        "HumanEval/95/L18",
        "HumanEval/95/L18-L20",
        "HumanEval/95/L19-L20",
        "HumanEval/96/L6",
        "HumanEval/99/L2-L5",
        "HumanEval/99/L3",
        "HumanEval/99/L15-L16",
        "HumanEval/101/L0-L1",
        "HumanEval/105/L6",
        "HumanEval/105/L6-L7",
        "HumanEval/105/L7",
        "HumanEval/109/L3",
        "HumanEval/111/L7",
        "HumanEval/118/L0-L1",
        "HumanEval/118/L5",
        "HumanEval/124/L1",
        "HumanEval/124/L5-L6",
        "HumanEval/124/L6",
        "HumanEval/124/L6-L7",
        "HumanEval/124/L9-L10",
        "HumanEval/124/L10",
        "HumanEval/124/L10-L11",
        "HumanEval/127/L2-L6",
        "HumanEval/127/L3",
        "HumanEval/127/L3-L4",
        "HumanEval/127/L3-L5",
        "HumanEval/127/L3-L7",
        "HumanEval/127/L5",
        "HumanEval/127/L5-L7",
        "HumanEval/127/L5-L8",
        "HumanEval/127/L6",
        "HumanEval/127/L8",
        "HumanEval/129/L1",
        "HumanEval/129/L9",
        "HumanEval/150/L5",
    }
)
