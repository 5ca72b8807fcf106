"""Row-level failures quarantine: failing gold rows move to gold.quarantine, the rest publishes.

The gate finds every row of a gold version that fails a row-level expectation (Spark
conditions for GE's map expectations, the PII and contamination detectors for the row
checks), MERGEs them into ``gold.quarantine`` with the expectation and a masked reason, and
writes a new gold version without them. That clean version is then validated with the whole
suite and published if it passes: training reads a published version as it is, with
nothing to subtract (docs/decisions/0115-quarantine.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data_platform import lake
from data_platform.config import PlatformConfig
from data_platform.contracts import contract
from data_platform.quality.results import ExpectationOutcome, shorten
from data_platform.quality.row_checks import row_check_violations
from data_platform.quality.row_rules import rule_violations
from data_platform.quality.suites import ROW, SuiteSpec, check_label

QUARANTINE_TABLE = "gold.quarantine"
GOLD_TABLE = "gold.training_corpus"


@dataclass
class QuarantineResult:
    source_version: int
    rows: int = 0  # distinct documents held back
    by_expectation: dict[str, int] = field(default_factory=dict)
    clean_version: int | None = None
    examples: list[str] = field(default_factory=list)  # "path (doc_id): expectation: reason"
    row_checks: tuple[str, ...] = ()  # row checks this pass ran

    def clean_outcomes(self) -> dict[str, ExpectationOutcome] | None:
        """Passing outcomes of the row checks, when this pass found no failing row at all."""
        if self.rows:
            return None
        return {
            name: ExpectationOutcome(label=check_label(name), success=True, source="check", unexpected_count=0)
            for name in self.row_checks
        }

    def outcomes(self) -> list[ExpectationOutcome]:
        """The failing row-level expectations of the source version, as outcomes."""
        return [
            ExpectationOutcome(label=label, success=False, source="quarantine", unexpected_count=n)
            for label, n in sorted(self.by_expectation.items())
        ]

    def summary_lines(self) -> list[str]:
        if not self.rows:
            return []
        counts = ", ".join(f"{label} {n}" for label, n in sorted(self.by_expectation.items()))
        lines = [
            f"quarantined {self.rows} row(s) of {GOLD_TABLE} v{self.source_version} to {QUARANTINE_TABLE} "
            f"({counts}); v{self.clean_version} written without them"
        ]
        lines += [f"  quarantined: {example}" for example in self.examples]
        if self.rows > len(self.examples):
            lines.append(
                f"  … {self.rows - len(self.examples)} more: "
                f"codemill sql \"SELECT path, expectation, reason FROM {QUARANTINE_TABLE} "
                f"WHERE source_version = {self.source_version}\""
            )
        return lines


def row_violations(df, suite: SuiteSpec, config: PlatformConfig):
    """(doc_id, expectation, reason) for every row failing a row-level expectation or check."""
    names = tuple(check.name for check in suite.checks if check.scope == ROW)
    parts = [row_check_violations(df, config, names)] if names else []
    rules = rule_violations(df, list(suite.expectations))
    parts += [rules] if rules is not None else []
    result = parts[0] if parts else None
    for part in parts[1:]:
        result = result.unionByName(part)
    return result


def _quarantine_rows(df, violations, source_version: int, clean_version: int, result_id: str, run_id):
    from pyspark.sql import functions as F

    # The quarantine row repeats the gold columns its contract shares with gold, except run_id:
    # there it is the gate's run, not the ingest run that wrote the gold row.
    gold_columns = set(contract(GOLD_TABLE).column_names) - {"run_id"}
    columns = [name for name in contract(QUARANTINE_TABLE).column_names if name in gold_columns]
    return violations.join(df.select(*columns), "doc_id").select(
        *columns,
        F.lit(source_version).cast("bigint").alias("source_version"),
        F.lit(clean_version).cast("bigint").alias("clean_version"),
        "expectation",
        "reason",
        F.lit(result_id).alias("result_id"),
        F.lit(run_id).cast("string").alias("run_id"),
        F.current_timestamp().alias("quarantined_at"),
    )


def quarantine(
    spark, config: PlatformConfig, df, suite: SuiteSpec, version: int, result_id: str, run_id: str | None
) -> QuarantineResult:
    """Quarantine the failing rows of gold ``version`` (``df``) and write a version without them.

    Returns the counts; ``clean_version`` is None when nothing failed (no version written).
    """
    from pyspark.sql import functions as F

    result = QuarantineResult(version, row_checks=tuple(c.name for c in suite.checks if c.scope == ROW))
    violations = row_violations(df, suite, config)
    if violations is None:
        return result
    violations = violations.persist()
    try:
        counts = violations.groupBy("expectation").agg(F.countDistinct("doc_id").alias("n")).collect()
        result.by_expectation = {row.expectation: int(row.n) for row in counts}
        if not result.by_expectation:
            return result
        failing = violations.select("doc_id").distinct()
        result.rows = failing.count()
        # A new version without the failing rows first, then the quarantine rows that point at it:
        # a run killed in between leaves an unpublished version, and the next gate redoes both.
        result.clean_version = lake.overwrite(spark, config, GOLD_TABLE, df.join(failing, "doc_id", "left_anti"))
        rows = _quarantine_rows(df, violations, version, result.clean_version, result_id, run_id)
        lake.merge(spark, config, QUARANTINE_TABLE, rows)
        examples = (
            violations.join(df.select("doc_id", "path"), "doc_id")
            .orderBy("path", "expectation")
            .limit(config.quality.quarantine_examples)
            .collect()
        )
        result.examples = [
            f"{shorten(row.path, 80)} ({row.doc_id[:12]}): {row.expectation}: {shorten(row.reason, 160)}"
            for row in examples
        ]
    finally:
        violations.unpersist()
    return result


def quarantined_rows(config: PlatformConfig, source_versions: list[int], limit: int) -> list[dict]:
    """Quarantined rows of these gold versions for reports, read with delta-rs, never the text."""
    import pyarrow.compute as pc

    from data_platform.storage import delta_table

    path = config.lake.table_path(QUARANTINE_TABLE)
    if not source_versions or not lake.is_delta_table(path):
        return []
    columns = ["source_version", "clean_version", "path", "doc_id", "expectation", "reason"]
    table = (
        delta_table(str(path))
        .to_pyarrow_dataset()
        .to_table(columns=columns, filter=pc.field("source_version").isin(source_versions))
    )
    rows = sorted(table.to_pylist(), key=lambda r: (r["source_version"], r["path"] or "", r["expectation"]))
    return rows[:limit]
