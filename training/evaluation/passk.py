"""pass@k: the chance that at least one of k samples drawn from n generated ones passes.

The unbiased estimator (Chen et al., 2021) is ``1 - C(n-c, k) / C(n, k)`` for n samples of
which c passed. The binomials overflow floats long before n gets interesting (C(200, 100)
is ~9e58), so the ratio is computed as a running product of factors each in [0, 1]:
``C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)``.
"""

from __future__ import annotations

from collections.abc import Iterable


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct among ``n`` samples."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0  # every size-k draw must contain a correct sample
    ratio = 1.0
    for i in range(n - c + 1, n + 1):
        ratio *= 1.0 - k / i
    return 1.0 - ratio


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float | None:
    """Mean pass@k over problems given as (n, c) pairs; problems with n < k are skipped.

    Returns None when no problem has enough samples for this k.
    """
    values = [pass_at_k(n, c, k) for n, c in counts if n >= k]
    return sum(values) / len(values) if values else None


def reportable_ks(samples_per_problem: int, wanted: Iterable[int] = (1, 10, 100)) -> list[int]:
    """The k values worth reporting for a sample budget (pass@k needs n >= k)."""
    return [k for k in wanted if k <= samples_per_problem]
