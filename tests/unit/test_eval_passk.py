"""The unbiased pass@k estimator against values computed by hand."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from training.evaluation.passk import mean_pass_at_k, pass_at_k, reportable_ks


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (5, 2, 1, 0.4),  # c/n for k = 1
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (4, 2, 3, 1.0),  # n - c < k: every draw of 3 holds a correct one
        (10, 0, 10, 0.0),
        (200, 1, 100, 0.5),  # C(199,100)/C(200,100) = 100/200
        (1000, 10, 1, 0.01),
    ],
)
def test_hand_computed_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_matches_exact_binomials_on_a_grid():
    for n in range(1, 25):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - Fraction(comb(n - c, k), comb(n, k))
                assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_stable_where_binomials_overflow_floats():
    # C(2000, 1000) ~ 2e600 is far beyond a double; the product form stays in [0, 1].
    value = pass_at_k(2000, 3, 1000)
    assert 0.0 < value < 1.0
    assert value == pytest.approx(1 - (1000 * 999 * 998) / (2000 * 1999 * 1998), rel=1e-9)


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_skips_problems_with_too_few_samples():
    assert mean_pass_at_k([(1, 1), (1, 0)], 1) == 0.5
    assert mean_pass_at_k([(5, 2), (1, 1)], 2) == pytest.approx(0.7)
    assert mean_pass_at_k([(1, 1)], 10) is None


def test_reportable_ks_need_enough_samples():
    assert reportable_ks(1) == [1]
    assert reportable_ks(20) == [1, 10]
    assert reportable_ks(200, (1, 5, 100)) == [1, 5, 100]
