"""Clusters that do not chain: split each connected component around its keepers.

Connected components of verified pairs chain: A~B and B~C put A and C together even when
they share little (version 1 and version 9 of a file through versions 2..8). Inside each
component, members are taken in keeper order (the keeper rule of :mod:`dedup.keeper`, then
centrality, then a stable key). The first unplaced member is a keeper, and every unplaced
member whose exact Jaccard with that keeper reaches the threshold is placed with it; the rest
are placed the same way around the next keeper, until every member is placed. Every dropped
file is then a near-duplicate of the file that is kept, and two members of one cluster are at
Jaccard distance at most twice the threshold's (Jaccard distance is a metric): J >= 2t - 1,
0.4 at t = 0.7, where a chain had no bound at all. This is the pivot method of correlation
clustering (Ailon, Charikar, Newman 2008) with the keeper as pivot; see
docs/decisions/0116-dedup-clusters.md for the alternatives measured.

Work per component is O(members x keepers) Jaccard comparisons of sorted shingle arrays;
components are small on real code (the largest here: tens of members).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data_platform.dedup.jaccard import jaccard


class _Similarities:
    """Exact Jaccard between members, computed once per pair."""

    def __init__(self, shingles: Sequence[np.ndarray]):
        self.shingles = shingles
        self.cache: dict[tuple[int, int], float] = {}

    def __call__(self, i: int, j: int) -> float:
        if i == j:
            return 1.0
        key = (i, j) if i < j else (j, i)
        if key not in self.cache:
            self.cache[key] = jaccard(self.shingles[i], self.shingles[j])
        return self.cache[key]


def split_component(shingles: Sequence[np.ndarray], threshold: float) -> list[int]:
    """For members given in keeper order, the index of the keeper each one is placed with."""
    similarity = _Similarities(shingles)
    placed = [-1] * len(shingles)
    for keeper in range(len(shingles)):
        if placed[keeper] >= 0:
            continue
        placed[keeper] = keeper
        for member in range(keeper + 1, len(shingles)):
            if placed[member] < 0 and similarity(member, keeper) >= threshold:
                placed[member] = keeper
    return placed


# Columns of the keeper order, smallest first (built in dedup.keeper.content_priority).
ORDER_COLUMNS = ("not_eligible", "not_previous_keeper", "license_rank", "neg_stars", "neg_commit_epoch",
                 "neg_centrality", "best_file_id")


def split_group(threshold: float, shingle_size: int):
    """applyInPandas function: one component's contents → (exact_dup_key, content_cluster).

    A cluster is named by the smallest exact_dup_key among its members, so names are stable.
    """
    from data_platform.dedup.shingles import shingle_hashes

    def run(frame):
        import pandas as pd

        ordered = frame.sort_values(list(ORDER_COLUMNS), kind="stable").reset_index(drop=True)
        sets = [shingle_hashes(text or "", shingle_size) for text in ordered["text"]]
        keepers = split_component(sets, threshold)
        keys = ordered["exact_dup_key"].tolist()
        names: dict[int, str] = {}
        for member, keeper in enumerate(keepers):
            names[keeper] = min(names.get(keeper, keys[member]), keys[member])
        return pd.DataFrame(
            {"exact_dup_key": keys, "content_cluster": [names[keeper] for keeper in keepers]}
        )

    return run
