"""Data quality: Great Expectations suites derived from the table contracts, the gold
publication gate, and the offline HTML report.

Entry points:

* :func:`check_ingest_run` — the ingest job's quality stage (validate, gate gold, report);
* :func:`gate_gold` — validate a gold version and publish it only when it passes;
* :func:`validate_table` — validate any table version (recorded, never published);
* :func:`build_report` — the offline HTML report with a data profile and plots.
"""

from data_platform.quality.gate import GateResult, gate_gold
from data_platform.quality.ingest_gates import QualityStageResult, check_ingest_run
from data_platform.quality.report import build_report
from data_platform.quality.results import ExpectationOutcome, ValidationOutcome
from data_platform.quality.validate import QualityError, validate_table

__all__ = [
    "ExpectationOutcome",
    "GateResult",
    "QualityStageResult",
    "QualityError",
    "ValidationOutcome",
    "build_report",
    "check_ingest_run",
    "gate_gold",
    "validate_table",
]
