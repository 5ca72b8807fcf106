"""Confidence intervals by bootstrap over problems (the unit that was sampled, not the task).

Infilling derives many tasks from one HumanEval problem, and their outcomes are correlated
(a model that does not understand the problem fails most of its lines). Resampling tasks
would pretend there are 1,006 independent observations; resampling *problems* (with all
their tasks) gives honest intervals. The statistic is the one reported: the mean over the
tasks of the resampled problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RESAMPLES = 1000
LEVEL = 0.95


def bootstrap_interval(
    values_by_unit: Mapping[str, Sequence[float]], seed: int = 0, resamples: int = RESAMPLES, level: float = LEVEL
) -> dict | None:
    """Percentile interval of the task mean when units are resampled with replacement."""
    import numpy as np

    units = [list(values) for values in values_by_unit.values() if len(values)]
    if not units:
        return None
    sums = np.array([sum(values) for values in units], dtype=float)
    counts = np.array([len(values) for values in units], dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(units), size=(resamples, len(units)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"low": float(low), "high": float(high), "level": level, "units": len(units), "resamples": resamples}


def pass_at_1_interval(outcomes, unit_of: Mapping[str, str], seed: int = 0) -> dict | None:
    """Bootstrap interval of pass@1 (each task's fraction of correct samples) over its problems."""
    by_unit: dict[str, list[float]] = {}
    for outcome in outcomes:
        if outcome.num_samples:
            by_unit.setdefault(unit_of.get(outcome.task_id, outcome.task_id), []).append(
                outcome.num_correct / outcome.num_samples
            )
    return bootstrap_interval(by_unit, seed)
