"""What a validation found, in a form the gate, the CLI, the report and ops.quality_results share.

Great Expectations' result objects are turned into :class:`ExpectationOutcome` values here,
through plain dicts, so formatting and counting are unit-tested without running GE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OPS_TABLE = "ops.quality_results"


def expectation_label(type_name: str, kwargs: dict[str, Any]) -> str:
    """``expect_column_values_to_not_be_null(language)``; multi-column ones list their columns."""
    if kwargs.get("column"):
        where = str(kwargs["column"])
    elif kwargs.get("column_list"):
        where = ",".join(str(c) for c in kwargs["column_list"])
    elif kwargs.get("column_A"):
        where = f"{kwargs['column_A']},{kwargs.get('column_B', '')}"
    else:
        where = ""
    return f"{type_name}({where})" if where else type_name


def shorten(value: Any, limit: int) -> str:
    """One-line, length-limited rendering of an example value."""
    text = "null" if value is None else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt_around(text: str, patterns: list[str], limit: int) -> str:
    """The part of a long text around the first pattern match, so the example shows the offence."""
    for pattern in patterns:
        try:
            match = re.search(pattern, text)
        except re.error:  # a Java-only regex construct: fall back to the start of the text
            continue
        if match:
            start = max(0, match.start() - limit // 3)
            piece = text[start : start + limit]
            return ("…" if start else "") + shorten(piece, limit)
    return shorten(text, limit)


def safe_excerpt(value: str, patterns: list[str], limit: int) -> str:
    """An excerpt of ``value`` around its first secret (or pattern match), every secret masked."""
    from data_platform.pii import masked
    from data_platform.quality.scrub import mask_secrets, secrets_in

    secrets = secrets_in(value, patterns)
    if not secrets:
        return excerpt_around(value, patterns, limit) if patterns else shorten(value, limit)
    shown = mask_secrets(value, secrets)
    first = min((shown.find(masked(s)) for s in secrets if masked(s) in shown), default=0)
    start = max(0, first - limit // 3)
    return ("…" if start else "") + shorten(shown[start : start + limit], limit)


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation (GE) or cross-row check (Spark) and how it went."""

    label: str
    success: bool
    source: str = "contract"  # contract, semantic or check
    unexpected_count: int | None = None
    element_count: int | None = None
    observed: str = ""
    examples: tuple[str, ...] = ()
    error: str = ""
    unit: str = "rows"

    def describe(self) -> str:
        """One line naming the expectation, what was found and example values."""
        parts = [self.label]
        if self.error:
            parts.append(f"error: {self.error}")
        if self.unexpected_count is not None:
            of = f" of {self.element_count}" if self.element_count is not None else ""
            parts.append(f"{self.unexpected_count}{of} {self.unit} unexpected")
        if self.observed:
            parts.append(f"observed {self.observed}")
        if self.examples:
            parts.append("e.g. " + "; ".join(self.examples))
        return ": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if len(parts) > 2 else "")


def outcome_from_ge(
    result: dict[str, Any],
    source: str,
    example_count: int,
    example_chars: int,
) -> ExpectationOutcome:
    """Turn one GE ``ExpectationValidationResult.to_json_dict()`` into an outcome."""
    config = result.get("expectation_config") or {}
    type_name = config.get("type") or config.get("expectation_type") or "unknown_expectation"
    kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    details = result.get("result") or {}
    exception = result.get("exception_info") or {}
    patterns = kwargs.get("regex_list") or ([kwargs["regex"]] if kwargs.get("regex") else [])
    error = ""
    if exception.get("raised_exception"):
        error = safe_excerpt(str(exception.get("exception_message", "raised an exception")), patterns, 200)

    def render(value: Any) -> str:
        # Reports are unrestricted: a failing value's secrets are masked before it is cut short.
        if isinstance(value, str):
            return safe_excerpt(value, patterns, example_chars)
        return shorten(value, example_chars)

    examples: list[str] = []
    column = kwargs.get("column")
    index_rows = details.get("partial_unexpected_index_list") or []
    if index_rows and isinstance(index_rows[0], dict):
        for row in index_rows[:example_count]:
            keys = ", ".join(f"{k}={shorten(v, 40)}" for k, v in row.items() if k != column)
            value = f": {render(row[column])}" if column and column in row else ""
            examples.append(f"{keys}{value}" if keys else render(row.get(column)))
    else:
        examples = [render(v) for v in (details.get("partial_unexpected_list") or [])[:example_count]]
    observed = ""
    if not result.get("success") and "observed_value" in details:
        observed = str(details["observed_value"])
        mismatched = (details.get("details") or {}).get("mismatched") or {}
        if mismatched:
            observed = str({k: v for k, v in mismatched.items() if v})
        observed = safe_excerpt(observed, patterns, 200)
    return ExpectationOutcome(
        label=expectation_label(type_name, kwargs),
        success=bool(result.get("success")),
        source=source,
        unexpected_count=details.get("unexpected_count"),
        element_count=details.get("element_count"),
        observed=observed,
        examples=tuple(examples) if not result.get("success") else (),
        error=error,
    )


@dataclass
class ValidationOutcome:
    """A validated table version: every outcome, plus where its reports are."""

    result_id: str
    run_id: str | None
    table_name: str
    table_version: int
    suite_name: str
    row_count: int
    outcomes: list[ExpectationOutcome]
    validated_at: datetime
    seconds: float = 0.0
    data_docs_path: str | None = None
    published: bool = False
    notes: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    quarantined_rows: int | None = None  # rows of this version moved to gold.quarantine
    derived_from_version: int | None = None  # this version was written without another's failing rows

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.outcomes)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.success]

    def to_row(self) -> dict[str, Any]:
        """The ops.quality_results row of this validation."""
        return {
            "result_id": self.result_id,
            "run_id": self.run_id,
            "table_name": self.table_name,
            "table_version": self.table_version,
            "suite_name": self.suite_name,
            "success": self.success,
            "published": self.published,
            "evaluated_expectations": len(self.outcomes),
            "successful_expectations": len(self.outcomes) - len(self.failures),
            "failed_expectations": [failure.describe() for failure in self.failures],
            "row_count": self.row_count,
            "report_path": self.data_docs_path,
            "validated_at": self.validated_at,
            "quarantined_rows": self.quarantined_rows,
            "derived_from_version": self.derived_from_version,
        }

    def summary_lines(self) -> list[str]:
        verdict = "PASSED" if self.success else "FAILED"
        if self.quarantined_rows:
            verdict = f"{self.quarantined_rows} row(s) QUARANTINED"
        passed = len(self.outcomes) - len(self.failures)
        derived = f", written from v{self.derived_from_version}" if self.derived_from_version is not None else ""
        checked = (
            f"{len(self.failures)} row-level expectation(s) failed"
            if self.quarantined_rows
            else f"{passed}/{len(self.outcomes)} expectations"
        )
        lines = [
            f"{self.table_name} v{self.table_version}: {verdict} "
            f"({checked}, {self.row_count} rows{derived}, {self.seconds:.1f} s)"
        ]
        lines += [f"  ✗ {failure.describe()}" for failure in self.failures]
        lines += [f"  note: {note}" for note in self.notes]
        return lines
