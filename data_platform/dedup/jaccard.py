"""Exact Jaccard similarity of shingle sets (sorted unique uint32 arrays)."""

from __future__ import annotations

import numpy as np


def jaccard(left: np.ndarray, right: np.ndarray) -> float:
    if len(left) == 0 and len(right) == 0:
        return 1.0
    common = np.intersect1d(left, right, assume_unique=True).size
    return common / (len(left) + len(right) - common)
