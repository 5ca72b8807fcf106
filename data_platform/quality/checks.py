"""Checks that Great Expectations has no built-in expectation for, computed with Spark.

Table-level checks compare groups of rows: "no repository in two splits" (repository-level
splits only), "every split has data once there are as many repositories as splits" and
"split fractions near the configured ones". Row-level checks (``row_checks``) run the
pipeline's own PII detector and decontamination index over gold text. All are reported as
outcomes next to the GE expectations, in the same ops.quality_results row and report, and
count towards the gate like any expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.config import PlatformConfig
from data_platform.quality.array_checks import ARRAY_CHECKS, misaligned_arrays
from data_platform.quality.results import ExpectationOutcome, shorten
from data_platform.quality.row_checks import ROW_CHECKS, row_check_violations
from data_platform.quality.suites import CheckSpec, check_label, expected_split_fractions
from data_platform.settings.refine import refine_sections


@dataclass(frozen=True)
class SplitComparison:
    success: bool
    enforced: bool
    observed: dict[str, float]
    deviations: dict[str, float]


def compare_split_fractions(
    units_per_split: dict[str, int],
    expected: dict[str, float],
    tolerance: float,
    min_units: int,
) -> SplitComparison:
    """Observed share of repositories (or files) per split against the configured share.

    With few repositories the shares are noise: below ``min_units`` the comparison is
    reported but never fails.
    """
    total = sum(units_per_split.values())
    observed = {split: (units_per_split.get(split, 0) / total if total else 0.0) for split in expected}
    for split in units_per_split:
        observed.setdefault(split, units_per_split[split] / total if total else 0.0)
    deviations = {
        split: round(observed[split] - expected.get(split, 0.0), 4)
        for split in observed
        if abs(observed[split] - expected.get(split, 0.0)) > tolerance
    }
    enforced = total >= min_units
    return SplitComparison(not (enforced and deviations), enforced, observed, deviations)


def empty_splits(units_per_split: dict[str, int], ratios: dict[str, float], units: int) -> tuple[bool, list[str]]:
    """(enforced, splits with a non-zero ratio and no data).

    Enforced once there are at least as many units (repositories with kept documents) as
    splits with a non-zero ratio: the repository assignment then gives every split one.
    """
    wanted = [split for split, ratio in ratios.items() if ratio > 0]
    return units >= len(wanted), [split for split in wanted if not units_per_split.get(split)]


def _rows_per_repo_and_split(df):
    from pyspark.sql import functions as F

    return df.groupBy("repo_id", "split").agg(F.count(F.lit(1)).alias("rows"))


def _split_stats(per_repo_split) -> dict[str, tuple[int, int]]:
    """split → (rows, repositories); a handful of rows reach the driver."""
    from pyspark.sql import functions as F

    rows = (
        per_repo_split.groupBy("split")
        .agg(F.sum("rows").alias("rows"), F.countDistinct("repo_id").alias("repos"))
        .collect()
    )
    return {row.split: (int(row.rows), int(row.repos)) for row in rows if row.split is not None}


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
        label=check_label("one_split_per_repo"),
        success=count == 0,
        source="check",
        unexpected_count=count,
        unit="repositories",
        examples=tuple(f"repo_id={shorten(row.repo_id, 40)} in {','.join(row.splits)}" for row in examples),
    )


def splits_not_empty(stats, config: PlatformConfig) -> tuple[ExpectationOutcome, str | None]:
    gold = refine_sections(config).gold
    by_file = gold.split_by == "file"
    units_per_split = {split: rows if by_file else repos for split, (rows, repos) in stats.items()}
    repos = sum(repos for _, repos in stats.values())
    enforced, empty = empty_splits(units_per_split, gold.split_ratios, repos)
    enforced = enforced and not by_file  # a file-level hash split can leave a small split empty
    note = None
    if empty and not enforced:
        note = (
            f"split(s) {', '.join(empty)} empty: {repos} repositories with kept documents "
            + (
                "and gold.split_by=file (hash of each file)"
                if by_file
                else f"for {len([r for r in gold.split_ratios.values() if r > 0])} splits; "
                "add repositories or set gold.split_by=file for a file-level split"
            )
        )
    outcome = ExpectationOutcome(
        label=check_label("splits_not_empty"),
        success=not (enforced and empty),
        source="check",
        observed=f"empty: {', '.join(empty)} with {repos} repositories" if enforced and empty else "",
    )
    return outcome, note


def split_fractions_near_config(stats, config: PlatformConfig) -> tuple[ExpectationOutcome, str | None]:
    by_file = refine_sections(config).gold.split_by == "file"
    units_per_split = {split: rows if by_file else repos for split, (rows, repos) in stats.items()}
    unit = "files" if by_file else "repositories"
    settings = config.quality
    expected = expected_split_fractions(config)
    comparison = compare_split_fractions(
        units_per_split, expected, settings.split_tolerance, settings.min_repos_for_split_check
    )
    observed = ", ".join(f"{split}={share:.3f}" for split, share in sorted(comparison.observed.items()))
    wanted = ", ".join(f"{split}={share:.3f}" for split, share in sorted(expected.items()))
    outcome = ExpectationOutcome(
        label=check_label("split_fractions_near_config"),
        success=comparison.success,
        source="check",
        observed=f"{observed} (expected {wanted} ± {settings.split_tolerance})" if not comparison.success else "",
    )
    note = None
    if comparison.deviations and not comparison.enforced:
        note = (
            f"shares of {unit} per split {observed} differ from {wanted} but only "
            f"{sum(units_per_split.values())} {unit} "
            f"(< quality.min_repos_for_split_check={settings.min_repos_for_split_check}): not enforced"
        )
    return outcome, note


def row_check_outcomes(violations, names: list[str], example_count: int) -> list[ExpectationOutcome]:
    """Outcomes of row-level checks from their violation rows (counts + a few masked reasons)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cached = violations.persist()
    try:
        counts = {row.expectation: int(row.n) for row in cached.groupBy("expectation").count().withColumnRenamed("count", "n").collect()}
        first = Window.partitionBy("expectation").orderBy("doc_id")
        examples: dict[str, list[str]] = {}
        if counts:
            for row in cached.withColumn("k", F.row_number().over(first)).where(F.col("k") <= example_count).collect():
                examples.setdefault(row.expectation, []).append(
                    f"doc_id={shorten(row.doc_id, 40)}: {shorten(row.reason, 160)}"
                )
    finally:
        cached.unpersist()
    outcomes = []
    for name in names:
        label = check_label(name)
        outcomes.append(
            ExpectationOutcome(
                label=label,
                success=not counts.get(label),
                source="check",
                unexpected_count=counts.get(label, 0),
                examples=tuple(sorted(examples.get(label, []))),
            )
        )
    return outcomes


def run_checks(
    df,
    checks: tuple[CheckSpec, ...],
    config: PlatformConfig,
    known_outcomes: dict[str, ExpectationOutcome] | None = None,
) -> tuple[list[ExpectationOutcome], list[str]]:
    """Run a suite's checks on a (cached) DataFrame; returns outcomes and notes.

    ``known_outcomes`` holds outcomes of row checks already computed on the same rows.
    """
    if not checks:
        return [], []
    outcomes, notes = [], []
    outcomes += [misaligned_arrays(df, c.name, config.quality.example_count) for c in checks if c.name in ARRAY_CHECKS]
    table_checks = [check for check in checks if check.name not in ROW_CHECKS and check.name not in ARRAY_CHECKS]
    known = known_outcomes or {}
    outcomes += [known[check.name] for check in checks if check.name in known]
    todo = [check.name for check in checks if check.name in ROW_CHECKS and check.name not in known]
    if todo:
        violations = row_check_violations(df, config, tuple(todo))
        outcomes += row_check_outcomes(violations, todo, config.quality.example_count)
    if not table_checks:
        return outcomes, notes
    per_repo_split = _rows_per_repo_and_split(df).cache()
    try:
        stats = _split_stats(per_repo_split)
        for check in table_checks:
            if check.name == "one_split_per_repo":
                if refine_sections(config).gold.split_by == "file":
                    notes.append("one_split_per_repo not checked: gold.split_by=file splits by file")
                    continue
                outcomes.append(one_split_per_repo(per_repo_split, config.quality.example_count))
            else:
                check_function = splits_not_empty if check.name == "splits_not_empty" else split_fractions_near_config
                outcome, note = check_function(stats, config)
                outcomes.append(outcome)
                notes += [note] if note else []
    finally:
        per_repo_split.unpersist()
    return outcomes, notes
