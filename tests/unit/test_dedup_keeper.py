"""The keeper rule as a sort key (the Spark window in dedup.keeper orders by the same fields)."""

from __future__ import annotations

from data_platform.dedup.keeper import keeper_sort_key


def keeper(*candidates):
    return min(candidates, key=lambda c: keeper_sort_key(*c))[0]


def test_rule_order():
    # (file_id, eligible, license_class, stars, commit_epoch, previous_keeper)
    gpl_famous = ("a", True, "non_permissive", 5000, 3.0, False)
    mit_small = ("b", True, "permissive", 10, 3.0, False)
    mit_big = ("c", True, "permissive", 50, 1.0, False)
    assert keeper(gpl_famous, mit_small, mit_big) == "c"  # license, then stars
    assert (
        keeper(("x", True, "permissive", None, 1.0, False), ("y", True, "permissive", None, 2.0, False))
        == "y"
    )
    assert (
        keeper(("x", True, "permissive", None, None, False), ("w", True, "permissive", None, None, False))
        == "w"
    )
    assert keeper(mit_big, ("d", True, "none", None, None, True)) == "d"  # the earlier keeper stays
    assert (
        keeper(("e", False, "permissive", 10**6, 9.0, True), gpl_famous) == "a"
    )  # filtered files never keep


def test_centrality_breaks_ties_before_the_stable_key():
    # (file_id, eligible, license_class, stars, commit_epoch, previous_keeper, centrality)
    peripheral = ("a", True, "permissive", None, None, False, 1)
    central = ("b", True, "permissive", None, None, False, 4)
    assert keeper(peripheral, central) == "b"
    assert keeper(("a", True, "permissive", 10, None, False, 1), central) == "a"  # stars come first
