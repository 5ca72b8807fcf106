"""Checks that two array columns of one row line up, element for element.

``silver.doc_sections`` keeps the language of each code block in a second array, and
``silver.qa_threads`` the score of each answer: a row whose arrays differ in length pairs
blocks with the wrong languages (or answers with the wrong scores) for every reader that zips
them. Great Expectations has no expectation over array sizes, so these run as Spark checks
next to the suite's expectations (one filter on ``size(a) != size(b)``).
"""

from __future__ import annotations

from data_platform.quality.results import ExpectationOutcome, shorten
from data_platform.quality.suites import check_label

# check name → (key column named in examples, first array, second array)
ARRAY_CHECKS = {
    "one_language_per_code_block": ("path", "code_blocks", "code_languages"),
    "one_score_per_answer": ("path", "answers", "answer_scores"),
}


def misaligned_arrays(df, name: str, example_count: int) -> ExpectationOutcome:
    """The outcome of one array check: rows whose two arrays differ in length fail."""
    from pyspark.sql import functions as F

    key, first, second = ARRAY_CHECKS[name]
    bad = df.where(F.coalesce(F.size(first), F.lit(-1)) != F.coalesce(F.size(second), F.lit(-1)))
    examples = bad.select(key, F.size(first).alias("a"), F.size(second).alias("b")).orderBy(key)
    shown = examples.limit(example_count).collect()
    count = bad.count() if shown else 0
    return ExpectationOutcome(
        label=check_label(name),
        success=count == 0,
        source="check",
        unexpected_count=count,
        examples=tuple(f"{key}={shorten(row[0], 60)}: {row.a} {first}, {row.b} {second}" for row in shown),
    )
