"""Which rows fail a row-level Great Expectations expectation, as a Spark condition.

GE reports how many rows fail and a few examples; quarantining needs every failing row, which
GE would only give by collecting them all to the driver. So each row-level expectation the
gold suite uses is also written here as the condition GE evaluates on Spark (nulls are
ignored by every map expectation except not-null, as in GE), and the quarantine stage
selects the failing rows with it. The gate validates the version it publishes with GE
itself, so a disagreement between the two can only block, never publish a bad row; an
integration test compares the counts on a crafted batch.
"""

from __future__ import annotations

from typing import Any

from data_platform.quality.suites import ExpectationSpec


def _in_set(col, kw: dict[str, Any]):
    return col.isNotNull() & ~col.isin(list(kw["value_set"]))


def _not_in_set(col, kw: dict[str, Any]):
    return col.isNotNull() & col.isin(list(kw["value_set"]))


def _between(col, kw: dict[str, Any]):
    from pyspark.sql import functions as F

    low, high = kw.get("min_value"), kw.get("max_value")
    bad = F.lit(False)
    if low is not None:
        bad = bad | ((col <= F.lit(low)) if kw.get("strict_min") else (col < F.lit(low)))
    if high is not None:
        bad = bad | ((col >= F.lit(high)) if kw.get("strict_max") else (col > F.lit(high)))
    return col.isNotNull() & bad


def _not_null(col, kw: dict[str, Any]):
    return col.isNull()


def _matches_any(col, patterns: list[str]):
    from pyspark.sql import functions as F

    hit = F.lit(False)
    for pattern in patterns:
        hit = hit | col.rlike(pattern)
    return hit


def _not_match_list(col, kw: dict[str, Any]):
    return col.isNotNull() & _matches_any(col, kw["regex_list"])


def _not_match(col, kw: dict[str, Any]):
    return col.isNotNull() & col.rlike(kw["regex"])


def _match(col, kw: dict[str, Any]):
    return col.isNotNull() & ~col.rlike(kw["regex"])


def _lengths_between(col, kw: dict[str, Any]):
    from pyspark.sql import functions as F

    return _between(F.length(col), kw) & col.isNotNull()


_CONDITIONS = {
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_not_be_in_set": _not_in_set,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_not_match_regex_list": _not_match_list,
    "expect_column_values_to_not_match_regex": _not_match,
    "expect_column_values_to_match_regex": _match,
    "expect_column_value_lengths_to_be_between": _lengths_between,
}


def can_quarantine(spec: ExpectationSpec) -> bool:
    """Row-level and expressible here; anything else blocks publication when it fails."""
    return spec.scope == "row" and spec.type in _CONDITIONS and "mostly" not in spec.kwargs


def failing_condition(spec: ExpectationSpec):
    """Spark condition true for the rows that fail ``spec``."""
    from pyspark.sql import functions as F

    return _CONDITIONS[spec.type](F.col(spec.kwargs["column"]), spec.kwargs)


def describe_failure(spec: ExpectationSpec):
    """A Spark string column saying why a row fails ``spec`` (the value, cut short)."""
    from pyspark.sql import functions as F

    column = spec.kwargs["column"]
    if "regex" in spec.type:
        # A pattern expectation is often a secret detector: the value that matched is the
        # secret, and reasons reach unrestricted reports. Name the rule, never the value.
        return F.lit(f"{column} fails {spec.type.removeprefix('expect_')} (value not shown)")
    value = F.coalesce(F.substring(F.col(column).cast("string"), 1, 60), F.lit("null"))
    return F.concat(F.lit(f"{column}="), value, F.lit(f" fails {spec.type.removeprefix('expect_')}"))


def rule_violations(df, specs: list[ExpectationSpec]):
    """(doc_id, expectation, reason) for every row failing one of ``specs`` (quarantinable ones).

    One scan: each rule becomes an optional (expectation, reason) element of an array column,
    and the non-null elements are exploded into rows.
    """
    from pyspark.sql import functions as F

    rules = [spec for spec in specs if can_quarantine(spec)]
    if not rules:
        return None
    failures = F.array(
        *[
            F.when(failing_condition(spec), F.struct(F.lit(spec.label).alias("expectation"), describe_failure(spec).alias("reason")))
            for spec in rules
        ]
    )
    return (
        df.select("doc_id", F.explode(F.filter(failures, lambda f: f.isNotNull())).alias("f"))
        .select("doc_id", "f.expectation", "f.reason")
    )
