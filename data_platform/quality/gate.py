"""The publication gate: a gold version becomes trainable only when its suite passes.

Publishing is nothing more than the ops.quality_results row of the validation having
``published = true``; :mod:`data_platform.publication` reads those rows. A failing version
gets a row with ``published = false``, so the previously published version stays the
latest published one and training keeps reading it.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.config import CodemillConfig
from data_platform.lake import read_table
from data_platform.publication import GOLD_TABLE, PublishedVersion, latest_published_version
from data_platform.quality.results import ValidationOutcome
from data_platform.quality.validate import record, resolve_version, validate_dataframe


@dataclass(frozen=True)
class GateResult:
    validation: ValidationOutcome
    previous_published: PublishedVersion | None
    current_published: PublishedVersion | None

    @property
    def published(self) -> bool:
        return self.validation.published

    @property
    def version(self) -> int:
        return self.validation.table_version

    @property
    def failing_expectations(self) -> list[str]:
        return [failure.describe() for failure in self.validation.failures]

    def summary_lines(self) -> list[str]:
        lines = self.validation.summary_lines()
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


def gate_gold(spark, config: CodemillConfig, run_id: str | None, version: int | None) -> GateResult:
    """Validate a gold version; publish it (record published=true) only if every check passes."""
    previous = latest_published_version(config)
    resolved = resolve_version(config, GOLD_TABLE, version)
    df = read_table(spark, config, GOLD_TABLE, resolved)
    outcome = validate_dataframe(spark, config, GOLD_TABLE, df, resolved, run_id)
    outcome.published = outcome.success
    record(config, outcome)
    return GateResult(outcome, previous, latest_published_version(config))
