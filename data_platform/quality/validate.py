"""Validate one version of any contract table and record the result in ops.quality_results."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from data_platform.config import PlatformConfig
from data_platform.contracts import contract
from data_platform.lake import is_delta_table, read_table, table_version
from data_platform.ops.records import append_rows
from data_platform.quality.checks import run_checks
from data_platform.quality.gx_runner import run_suite
from data_platform.quality.results import OPS_TABLE, ExpectationOutcome, ValidationOutcome
from data_platform.quality.suites import build_suite


class QualityError(RuntimeError):
    """A validation could not run (missing table or version); the message is one line."""


def resolve_version(config: PlatformConfig, table_name: str, version: int | None) -> int:
    """The version to validate: the given one if it exists, else the latest."""
    path = config.lake.table_path(table_name)
    if not is_delta_table(path):
        raise QualityError(f"{table_name} does not exist yet (no Delta table at {path})")
    latest = table_version(path)
    if version is None:
        return latest
    if not 0 <= version <= latest:
        raise QualityError(f"{table_name} has no version {version} (latest is {latest})")
    return version


def validate_dataframe(
    spark,
    config: PlatformConfig,
    table_name: str,
    df,
    version: int,
    run_id: str | None = None,
    known_outcomes: dict[str, ExpectationOutcome] | None = None,
) -> ValidationOutcome:
    """Run the table's suite (GE expectations + Spark checks) on a DataFrame.

    The DataFrame is cached for the duration: GE issues one Spark job per metric and the
    table would otherwise be re-read from Delta each time. ``known_outcomes`` (check name →
    outcome) stands in for checks already computed on exactly these rows.
    """
    started = time.perf_counter()
    suite = build_suite(table_name, config)
    result_id = uuid.uuid4().hex
    cached = df.persist()
    try:
        row_count = cached.count()
        loaded = time.perf_counter()
        run_name = f"{run_id or 'manual'}-{table_name}-v{version}"
        suite_run = run_suite(config, suite, cached, contract(table_name).keys, run_name)
        checked = time.perf_counter()
        checks, notes = run_checks(cached, suite.checks, config, known_outcomes)
    finally:
        cached.unpersist()
    done = time.perf_counter()
    stage_seconds = {
        "load_and_cache": round(loaded - started, 3),
        "great_expectations": round(suite_run.seconds, 3),
        "cross_row_checks": round(done - checked, 3),
    }
    return ValidationOutcome(
        result_id=result_id,
        run_id=run_id,
        table_name=table_name,
        table_version=version,
        suite_name=suite.name,
        row_count=row_count,
        outcomes=suite_run.outcomes + checks,
        validated_at=datetime.now(UTC),
        seconds=time.perf_counter() - started,
        data_docs_path=suite_run.data_docs_path,
        notes=notes,
        stage_seconds=stage_seconds,
    )


def record(config: PlatformConfig, outcome: ValidationOutcome) -> None:
    """Append the outcome's row to ops.quality_results (delta-rs: no Spark needed)."""
    append_rows(config, OPS_TABLE, [outcome.to_row()])


def validate_table(
    spark, config: PlatformConfig, table: str, version: int | None = None, run_id: str | None = None
) -> ValidationOutcome:
    """Validate a version (default: latest) of any contract table; records it, never publishes."""
    contract(table)  # unknown names fail here with the list of known tables
    resolved = resolve_version(config, table, version)
    df = read_table(spark, config, table, resolved)
    outcome = validate_dataframe(spark, config, table, df, resolved, run_id)
    record(config, outcome)
    return outcome
