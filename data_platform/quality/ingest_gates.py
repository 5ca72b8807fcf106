"""The quality stage of an ingest run, in one call for the ingest job.

Validates the tables the run wrote (recorded in ops.quality_results, never blocking), then
gates gold (publishes it only if its suite passes), then writes the HTML report. The ingest
job exits non-zero when gold was written and not published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from data_platform.config import PlatformConfig
from data_platform.publication import GOLD_TABLE
from data_platform.quality.gate import GateResult, gate_gold
from data_platform.quality.report import build_report
from data_platform.quality.results import ValidationOutcome
from data_platform.quality.validate import validate_table


@dataclass
class QualityStageResult:
    gate: GateResult | None = None
    validations: list[ValidationOutcome] = field(default_factory=list)
    report_path: Path | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        """False only when gold was validated and not published."""
        return self.gate is None or self.gate.published

    def stage_counts(self) -> dict[str, int]:
        """Counts for ops.ingest_runs.stage_counts."""
        counts = {f"quality.{v.table_name}.failed": len(v.failures) for v in self.validations}
        if self.gate is not None:
            counts["quality.gold.failed"] = len(self.gate.validation.failures)
            counts["quality.gold.published"] = int(self.gate.published)
            counts["quality.gold.quarantined"] = self.gate.quarantined_rows
        return counts

    def summary_lines(self) -> list[str]:
        if self.skipped:
            return ["quality: skipped (quality.enabled=false); gold was not published"]
        lines = [line for v in self.validations for line in v.summary_lines()]
        lines += self.gate.summary_lines() if self.gate else []
        lines += [f"quality report: {self.report_path}"] if self.report_path else []
        return lines


def check_ingest_run(
    spark, config: PlatformConfig, run_id: str, table_versions: Mapping[str, int]
) -> QualityStageResult:
    """Validate what an ingest run wrote (``{table: version}``), gate gold, write the report."""
    if not config.quality.enabled:
        return QualityStageResult(skipped=True)
    result = QualityStageResult()
    for table in config.quality.validate_tables:
        if table in table_versions and table != GOLD_TABLE:
            result.validations.append(validate_table(spark, config, table, table_versions[table], run_id))
    if GOLD_TABLE in table_versions:
        result.gate = gate_gold(spark, config, run_id, table_versions[GOLD_TABLE])
    if config.quality.report_after_ingest and (result.gate or result.validations):
        result.report_path = build_report(spark, config, run_id)
    return result
