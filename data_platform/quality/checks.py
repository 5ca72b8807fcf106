"""Cross-row checks that Great Expectations has no built-in expectation for.

"No repository in two splits" and "split fractions near the configured ones" compare groups
of rows, not rows. Spark computes them in one small aggregation (rows per repository and
split) and they are reported as outcomes next to the GE expectations, in the same
ops.quality_results row and report; they count towards the gate like any expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.config import CodemillConfig
from data_platform.quality.results import ExpectationOutcome, shorten
from data_platform.quality.suites import CheckSpec, expected_split_fractions


@dataclass(frozen=True)
class SplitComparison:
    success: bool
    enforced: bool
    observed: dict[str, float]
    deviations: dict[str, float]


def compare_split_fractions(
    repos_per_split: dict[str, int],
    expected: dict[str, float],
    tolerance: float,
    min_repos: int,
) -> SplitComparison:
    """Observed share of repositories per split against the configured share.

    The split is a hash of repo_id, so the repository share is what the configuration
    controls (row shares also depend on repository sizes). With few repositories the shares
    are noise: below ``min_repos`` the comparison is reported but never fails.
    """
    total = sum(repos_per_split.values())
    observed = {split: (repos_per_split.get(split, 0) / total if total else 0.0) for split in expected}
    for split in repos_per_split:
        observed.setdefault(split, repos_per_split[split] / total if total else 0.0)
    deviations = {
        split: round(observed[split] - expected.get(split, 0.0), 4)
        for split in observed
        if abs(observed[split] - expected.get(split, 0.0)) > tolerance
    }
    enforced = total >= min_repos
    return SplitComparison(not (enforced and deviations), enforced, observed, deviations)


def _rows_per_repo_and_split(df):
    from pyspark.sql import functions as F

    return df.groupBy("repo_id", "split").agg(F.count(F.lit(1)).alias("rows"))


def one_split_per_repo(per_repo_split, example_count: int) -> ExpectationOutcome:
    from pyspark.sql import functions as F

    leaks = (
        per_repo_split.groupBy("repo_id")
        .agg(F.sort_array(F.collect_set("split")).alias("splits"))
        .filter(F.size("splits") > 1)
    )
    examples = leaks.orderBy("repo_id").limit(example_count).collect()
    count = leaks.count() if examples else 0
    return ExpectationOutcome(
        label="check:one_split_per_repo(repo_id,split)",
        success=count == 0,
        source="check",
        unexpected_count=count,
        unit="repositories",
        examples=tuple(f"repo_id={shorten(row.repo_id, 40)} in {','.join(row.splits)}" for row in examples),
    )


def split_fractions_near_config(
    per_repo_split, config: CodemillConfig
) -> tuple[ExpectationOutcome, str | None]:
    from pyspark.sql import functions as F

    stats = (
        per_repo_split.groupBy("split")
        .agg(F.sum("rows").alias("rows"), F.countDistinct("repo_id").alias("repos"))
        .collect()
    )
    repos_per_split = {row.split: int(row.repos) for row in stats if row.split is not None}
    repos = sum(repos_per_split.values())
    settings = config.quality
    expected = expected_split_fractions(config)
    comparison = compare_split_fractions(
        repos_per_split, expected, settings.split_tolerance, settings.min_repos_for_split_check
    )
    observed = ", ".join(f"{split}={share:.3f}" for split, share in sorted(comparison.observed.items()))
    wanted = ", ".join(f"{split}={share:.3f}" for split, share in sorted(expected.items()))
    outcome = ExpectationOutcome(
        label="check:split_fractions_near_config(repo_id,split)",
        success=comparison.success,
        source="check",
        observed=f"{observed} (expected {wanted} ± {settings.split_tolerance})"
        if not comparison.success
        else "",
    )
    note = None
    if comparison.deviations and not comparison.enforced:
        note = (
            f"repository shares per split {observed} differ from {wanted} but only {repos} repositories "
            f"(< quality.min_repos_for_split_check={settings.min_repos_for_split_check}): not enforced"
        )
    return outcome, note


def run_checks(
    df, checks: tuple[CheckSpec, ...], config: CodemillConfig
) -> tuple[list[ExpectationOutcome], list[str]]:
    """Run a suite's cross-row checks on a (cached) DataFrame; returns outcomes and notes."""
    if not checks:
        return [], []
    per_repo_split = _rows_per_repo_and_split(df).cache()
    outcomes, notes = [], []
    try:
        for check in checks:
            if check.name == "one_split_per_repo":
                outcomes.append(one_split_per_repo(per_repo_split, config.quality.example_count))
            elif check.name == "split_fractions_near_config":
                outcome, note = split_fractions_near_config(per_repo_split, config)
                outcomes.append(outcome)
                notes += [note] if note else []
    finally:
        per_repo_split.unpersist()
    return outcomes, notes
