"""The publication gate: a gold version becomes trainable only when its suite passes.

Publishing is nothing more than the ops.quality_results row of the validation having
``published = true``; :mod:`data_platform.publication` reads those rows. A failing version
gets a row with ``published = false``, so the previously published version stays the
latest published one and training keeps reading it.

Row-level failures (PII left, benchmark overlap, values outside the contract) do not block
when ``quality.on_row_failure = quarantine`` (the default): the failing rows go to
gold.quarantine, a new version without them is written and validated, and that version is
the one published. ops.quality_results holds a row for both versions. Table-level failures
(row counts, splits, schema, uniqueness) always block. See docs/decisions/0115-quarantine.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from data_platform.config import PlatformConfig
from data_platform.lake import init_tables, read_table
from data_platform.publication import GOLD_TABLE, PublishedVersion, latest_published_version
from data_platform.quality.quarantine import QUARANTINE_TABLE, QuarantineResult, quarantine
from data_platform.quality.results import OPS_TABLE, ValidationOutcome
from data_platform.quality.suites import build_suite
from data_platform.quality.validate import record, resolve_version, validate_dataframe


@dataclass(frozen=True)
class GateResult:
    validation: ValidationOutcome
    previous_published: PublishedVersion | None
    current_published: PublishedVersion | None
    quarantine: QuarantineResult | None = None
    source_validation: ValidationOutcome | None = None  # the version rows were quarantined from

    @property
    def published(self) -> bool:
        return self.validation.published

    @property
    def version(self) -> int:
        return self.validation.table_version

    @property
    def quarantined_rows(self) -> int:
        return self.quarantine.rows if self.quarantine else 0

    @property
    def failing_expectations(self) -> list[str]:
        return [failure.describe() for failure in self.validation.failures]

    def summary_lines(self) -> list[str]:
        lines = self.quarantine.summary_lines() if self.quarantine else []
        lines += self.validation.summary_lines()
        if self.published:
            lines.append(
                f"published {GOLD_TABLE} v{self.version} (quality result {self.validation.result_id})"
            )
        else:
            kept = (
                f"v{self.current_published.table_version} stays published"
                if self.current_published
                else "no version is published yet"
            )
            lines.append(f"NOT published {GOLD_TABLE} v{self.version}; {kept}")
        if self.validation.data_docs_path:
            lines.append(f"Data Docs: {self.validation.data_docs_path}")
        return lines


def _source_outcome(config, version: int, result_id: str, run_id, held: QuarantineResult, rows: int):
    """The ops.quality_results row of a version whose failing rows were quarantined."""
    from datetime import UTC, datetime

    suite = build_suite(GOLD_TABLE, config)
    return ValidationOutcome(
        result_id=result_id,
        run_id=run_id,
        table_name=GOLD_TABLE,
        table_version=version,
        suite_name=suite.name,
        row_count=rows,
        outcomes=held.outcomes(),
        validated_at=datetime.now(UTC),
        notes=[f"{held.rows} row(s) quarantined to {QUARANTINE_TABLE}; v{held.clean_version} validated next"],
        quarantined_rows=held.rows,
    )


def gate_gold(spark, config: PlatformConfig, run_id: str | None, version: int | None) -> GateResult:
    """Validate a gold version; quarantine failing rows (by default); publish what passes."""
    # Bring the tables the gate writes up to their contracts (columns added since they were created).
    init_tables(spark, config, [OPS_TABLE, QUARANTINE_TABLE])
    previous = latest_published_version(config)
    resolved = resolve_version(config, GOLD_TABLE, version)
    df = read_table(spark, config, GOLD_TABLE, resolved).persist()
    held, source = None, None
    try:
        if config.quality.on_row_failure == "quarantine":
            result_id = uuid.uuid4().hex
            held = quarantine(spark, config, df, build_suite(GOLD_TABLE, config), resolved, result_id, run_id)
            if held.rows:
                source = _source_outcome(config, resolved, result_id, run_id, held, df.count())
                record(config, source)
        if held is not None and held.rows:
            clean = read_table(spark, config, GOLD_TABLE, held.clean_version)
            outcome = validate_dataframe(spark, config, GOLD_TABLE, clean, held.clean_version, run_id)
            outcome = replace(outcome, derived_from_version=resolved)
        else:
            # Row checks the quarantine pass already ran clean need not run again on the same rows.
            done = held.clean_outcomes() if held is not None else None
            outcome = validate_dataframe(spark, config, GOLD_TABLE, df, resolved, run_id, done)
    finally:
        df.unpersist()
    outcome.published = outcome.success
    record(config, outcome)
    return GateResult(outcome, previous, latest_published_version(config), held, source)
