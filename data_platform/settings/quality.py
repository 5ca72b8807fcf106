"""Settings of the Great Expectations gates and the data-quality report (`codemill quality`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from data_platform.settings.base import Section


class QualitySettings(Section):
    enabled: bool = Field(True, description="Run the Great Expectations gates in the ingest job")
    languages: list[str] = Field(
        default_factory=list,
        description="Languages gold may contain; empty: filters.allowed_languages, else every language id "
        "curation can assign (the canonical id of each Pygments lexer, never an alias such as 'py')",
    )
    split_fractions: dict[str, float] = Field(
        default_factory=dict,
        description="Expected share of repositories per split; empty: gold.split_ratios "
        "(train 0.9 / valid 0.05 / test 0.05 by default)",
    )
    split_tolerance: float = Field(
        0.1, gt=0, le=1, description="Largest allowed |observed - expected| share of repositories per split"
    )
    min_repos_for_split_check: int = Field(
        20,
        ge=1,
        description="Below this many repositories the split-fraction check is reported but not enforced "
        "(splits must be non-empty as soon as there are as many repositories as splits)",
    )
    on_row_failure: Literal["quarantine", "block"] = Field(
        "quarantine",
        description="What a failing row-level expectation of gold (PII left, benchmark overlap, a value "
        "outside the contract) does: move those rows to gold.quarantine and publish the rest, or block "
        "publication. Table-level expectations (row count, splits, schema, uniqueness) always block",
    )
    quarantine_examples: int = Field(
        20, ge=0, le=1000, description="Quarantined rows listed by the run summary and `codemill quality report`"
    )
    example_count: int = Field(3, ge=1, le=20, description="Example values kept per failing expectation")
    example_chars: int = Field(80, ge=10, description="Example values are cut to this many characters")
    report_profile: bool = Field(True, description="Include the data profile with plots in the HTML report")
    validate_tables: list[str] = Field(
        default_factory=lambda: ["bronze.repos", "bronze.files", "silver.files", "silver.functions",
                                 "silver.doc_sections", "silver.qa_threads"],
        description="Tables besides gold validated after each ingest run (recorded, never blocking); "
        "a table the run did not write is skipped",
    )
    extra_expectations_dir: str | None = Field(
        None,
        description="A folder of your own semantic files (<table>.yaml, the format of schemas/expectations/) "
        "whose expectations and checks are added to each table's suite, e.g. a regex for your "
        "organisation's token format",
    )
    report_after_ingest: bool = Field(True, description="Write the HTML report at the end of each ingest run")

    @field_validator("split_fractions")
    @classmethod
    def _fractions_sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if value and abs(sum(value.values()) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1 (got {sum(value.values()):.3f})")
        return value
