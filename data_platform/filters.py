"""Per-language quality filters and the license policy, recorded as a drop reason per file.

The signals are silver.files columns measured at curation; the thresholds live in the
``filters`` config section (BigCode's defaults, per-language overrides). A file gets the
first reason that applies, in the order of ``DROP_REASONS``; duplicates are decided later
by dedup and only reported for files that pass every filter here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from data_platform.settings.refine import ATTRIBUTED, FilterSettings

# Every reason a file can leave the corpus, in precedence order.
DROP_REASONS = (
    "no_text",
    "unknown_language",
    "language_not_allowed",
    "license",
    "contaminated",
    "too_small",
    "too_large",
    "vendored",
    "generated",
    "encoded_data",
    "max_line_length",
    "mean_line_length",
    "alnum_fraction",
    "exact_duplicate",
    "near_duplicate",
)

SIGNAL_COLUMNS = (
    "language",
    "text_is_null",
    "is_binary",
    "license_class",
    "license_spdx",
    "contamination_match",
    "size_bytes",
    "is_vendored",
    "is_generated",
    "has_encoded_data",
    "max_line_length",
    "mean_line_length",
    "alnum_fraction",
    "source_kind",
)


def filter_reason(row: Mapping[str, Any], settings: FilterSettings) -> str | None:
    """The first filter ``row`` (silver.files signals) fails, or None when it passes all."""
    if row.get("text_is_null") or row.get("is_binary"):
        return "no_text"
    language = (row.get("language") or "").lower() or None
    if language is None and settings.drop_unknown_language:
        return "unknown_language"
    if settings.allowed_languages is not None and language not in {
        x.lower() for x in settings.allowed_languages
    }:
        return "language_not_allowed"
    if row.get("license_class") == ATTRIBUTED:
        if not settings.admit_attributed_qa:
            return "license"
    elif not settings.admits_license(row.get("license_class"), row.get("license_spdx")):
        return "license"
    if row.get("contamination_match"):
        return "contaminated"
    limits = settings.for_language(language, row.get("source_kind"))
    size = row.get("size_bytes") or 0
    if limits.min_size_bytes is not None and size < limits.min_size_bytes:
        return "too_small"
    if limits.max_size_bytes is not None and size > limits.max_size_bytes:
        return "too_large"
    if limits.drop_vendored and row.get("is_vendored"):
        return "vendored"
    if limits.drop_generated and row.get("is_generated"):
        return "generated"
    if limits.drop_encoded_data and row.get("has_encoded_data"):
        return "encoded_data"
    if limits.max_line_length is not None and (row.get("max_line_length") or 0) > limits.max_line_length:
        return "max_line_length"
    if (
        limits.max_mean_line_length is not None
        and (row.get("mean_line_length") or 0) > limits.max_mean_line_length
    ):
        return "mean_line_length"
    alnum = row.get("alnum_fraction")
    if limits.min_alnum_fraction is not None and alnum is not None and alnum < limits.min_alnum_fraction:
        return "alnum_fraction"
    return None


def filter_batches(settings: FilterSettings):
    """mapInArrow function: (file_id, *SIGNAL_COLUMNS) → (file_id, filter_reason)."""

    def run(batches):
        for batch in batches:
            reasons = [filter_reason(row, settings) for row in batch.to_pylist()]
            yield pa.RecordBatch.from_arrays(
                [batch.column("file_id"), pa.array(reasons, pa.string())], names=["file_id", "filter_reason"]
            )

    return run


def filter_reasons(files, settings: FilterSettings):
    """(file_id, filter_reason) for silver.files rows joined with their contamination_match."""
    from pyspark.sql import functions as F

    signals = files.select(
        "file_id", *[F.col("text").isNull().alias(c) if c == "text_is_null" else c for c in SIGNAL_COLUMNS]
    )
    return signals.mapInArrow(filter_batches(settings), "file_id string, filter_reason string")
