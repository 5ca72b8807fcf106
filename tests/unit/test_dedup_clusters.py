"""Splitting connected components around their keepers: clusters that do not chain."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_platform.dedup.clusters import ORDER_COLUMNS, split_component, split_group
from data_platform.dedup.jaccard import jaccard


def _set(*ranges) -> np.ndarray:
    return np.unique(np.concatenate([np.arange(a, b, dtype=np.uint32) for a, b in ranges]))


def _versions(count: int, step: int = 15, size: int = 100) -> list[np.ndarray]:
    """Versions of a file: each shifts its shingles by ``step``, so neighbours are similar and
    distant versions are not (version i ~ i+1: J = 85/115 = 0.74; i ~ i+2: J = 0.54)."""
    return [_set((i * step, i * step + size)) for i in range(count)]


def _clusters(placed: list[int]) -> dict[int, list[int]]:
    clusters: dict[int, list[int]] = {}
    for member, keeper in enumerate(placed):
        clusters.setdefault(keeper, []).append(member)
    return clusters


def test_a_chain_of_versions_is_split_where_connected_components_would_chain():
    chain = _versions(8)
    assert jaccard(chain[0], chain[1]) >= 0.7 > jaccard(chain[0], chain[2])
    placed = split_component(chain, 0.7)
    # every member is a near-duplicate of the keeper it is placed with
    for member, keeper in enumerate(placed):
        assert jaccard(chain[member], chain[keeper]) >= 0.7
    clusters = _clusters(placed)
    assert len(clusters) == 4  # not one cluster of eight: 0-1, 2-3, 4-5, 6-7
    # and pairs inside a cluster are bounded (J >= 2t - 1), where the chain had J(0, 7) = 0
    assert jaccard(chain[0], chain[7]) == 0
    for members in clusters.values():
        assert all(jaccard(chain[a], chain[b]) >= 0.4 for a in members for b in members)


def test_keeper_order_decides_the_centre():
    chain = _versions(3)  # 0 ~ 1 ~ 2 but 0 !~ 2
    assert split_component(chain, 0.7) == [0, 0, 2]  # version 0 keeps: version 2 is not its near-copy
    assert split_component([chain[1], chain[0], chain[2]], 0.7) == [0, 0, 0]  # the middle one reaches both


def test_identical_and_unrelated_members():
    same = _set((0, 50))
    assert split_component([same, same.copy(), same.copy()], 0.7) == [0, 0, 0]
    assert split_component([_set((0, 50)), _set((100, 150))], 0.7) == [0, 1]


def test_split_group_orders_by_the_keeper_rule_and_names_clusters_by_smallest_key():
    texts = [" ".join(f"w{i}" for i in range(start, start + 40)) for start in (0, 6, 12)]
    frame = pd.DataFrame(
        {
            "component": ["c"] * 3,
            "exact_dup_key": ["k-b", "k-a", "k-c"],
            "text": texts,
            "not_eligible": [1, 0, 1],
            **{column: [0, 0, 0] for column in ORDER_COLUMNS[1:-1]},
            "best_file_id": ["f1", "f2", "f3"],
        }
    )
    out = split_group(0.7, 5)(frame)
    by_key = dict(zip(out["exact_dup_key"], out["content_cluster"], strict=True))
    assert set(by_key) == {"k-a", "k-b", "k-c"}
    # k-a (the only eligible content) is the keeper; k-b and k-c are one version away on each side
    assert by_key["k-a"] == by_key["k-b"] == by_key["k-c"] == "k-a"
    # without k-a, k-b keeps (f1 before f3) and k-c, two versions away, stands alone
    out = split_group(0.7, 5)(frame[frame["exact_dup_key"] != "k-a"])
    assert dict(zip(out["exact_dup_key"], out["content_cluster"], strict=True)) == {"k-b": "k-b", "k-c": "k-c"}
