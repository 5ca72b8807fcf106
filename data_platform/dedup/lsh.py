"""LSH banding: choose (bands, rows) for a threshold and turn signatures into band keys."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)


def collision_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that two sets with this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def _integral(fn, low: float, high: float, steps: int = 200) -> float:
    if high <= low:
        return 0.0
    xs = np.linspace(low, high, steps + 1)
    ys = np.array([fn(x) for x in xs])
    return float(np.sum((ys[1:] + ys[:-1]) * 0.5 * np.diff(xs)))


@lru_cache(maxsize=32)
def optimal_bands_rows(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm minimising weighted FP and FN probability mass.

    The same objective as datasketch's MinHashLSH. When candidates are verified exactly,
    false positives only cost a comparison while false negatives are lost pairs, so the
    caller weights false negatives higher.
    """
    best, best_error = (1, num_perm), float("inf")
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        fp = _integral(lambda s, b=bands, r=rows: collision_probability(s, b, r), 0.0, threshold)
        fn = _integral(lambda s, b=bands, r=rows: 1.0 - collision_probability(s, b, r), threshold, 1.0)
        error = fp * false_positive_weight + fn * false_negative_weight
        if error < best_error:
            best, best_error = (bands, rows), error
    return best


def bands_rows_for(
    threshold: float, num_perm: int, verify: str, bands: int | None, rows: int | None
) -> tuple[int, int]:
    """Configured (bands, rows), or the optimum for the threshold given how candidates are verified."""
    if bands and rows:
        return bands, rows
    if rows:
        return num_perm // rows, rows
    if bands:
        return bands, num_perm // bands
    if verify == "none":
        return optimal_bands_rows(threshold, num_perm)
    return recall_first_bands_rows(threshold, num_perm)


def recall_first_bands_rows(threshold: float, num_perm: int, min_recall: float = 0.99) -> tuple[int, int]:
    """The widest bands whose collision chance at the threshold is still >= ``min_recall``.

    Verified candidates make a false positive cost one comparison while a false negative is
    a lost pair, so this favours recall at the threshold; wider bands (more rows) keep the
    number of low-similarity candidates down.
    """
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if collision_probability(threshold, bands, rows) >= min_recall:
            return bands, rows
    return num_perm, 1


def band_keys(signature: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One signed 64-bit key per band (equal keys = equal band values, up to 2^-64 collisions)."""
    values = np.asarray(signature[: bands * rows], dtype=np.uint64).reshape(bands, rows)
    keys = np.zeros(bands, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(rows):
            keys = (keys ^ values[:, column]) * _MIX
            keys ^= keys >> np.uint64(29)
    return keys.view(np.int64)
