"""Great Expectations 1.x plumbing: a file context under the lake, and running one suite.

Layout under ``<lake>/_quality/gx/``: GE's own stores (suites, validation definitions,
checkpoints, validation results) and Data Docs at ``uncommitted/data_docs/local_site``.
Per table there is one Spark DataFrame asset and one whole-DataFrame batch definition; a
suite, validation definition and checkpoint (which updates Data Docs) named after the table
(``gold__training_corpus``), plus a ``…__failures`` trio that re-runs only the failing
expectations for detail. Suites are rebuilt from the contracts on every run, so the files in
``schemas/`` stay the only source.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from data_platform.config import PlatformConfig
from data_platform.quality.results import ExpectationOutcome, expectation_label, outcome_from_ge
from data_platform.quality.scrub import scrub_tree, secrets_of_results
from data_platform.quality.suites import SuiteSpec
from data_platform.storage import upload_tree, workdir

DATA_SOURCE = "lake"
BATCH_DEFINITION = "whole_table_version"


def quality_root(config: PlatformConfig) -> Path:
    """GE's file context and the reports, on this machine: ``<lake>/_quality`` for a local lake, the
    lake's cache folder for a remote one (GE writes local files only; :func:`publish_quality` copies them)."""
    return workdir(config.lake.root, "_quality", config.lake.cache_dir)


def publish_quality(config: PlatformConfig) -> None:
    """Copy the quality files (GE stores, Data Docs, reports) to a remote lake's ``_quality``; no-op locally."""
    if config.lake.remote:
        upload_tree(quality_root(config), config.lake.root / "_quality")


def _quiet() -> None:
    # Offline and quiet: no usage statistics, no progress bars, GE logs at WARNING unless asked.
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    logger = logging.getLogger("great_expectations")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


def import_gx():
    """Import Great Expectations, turning the silent-exit failure mode into a clear error.

    With pyspark's Spark Connect modules importable but grpcio missing, the import has been
    seen to end the process with status 0 (docs/engine-notes.md); checking grpcio first avoids it.
    """
    _quiet()
    try:
        import grpc  # noqa: F401
        import grpc_status  # noqa: F401
    except ImportError as err:
        raise RuntimeError(
            f"Great Expectations on Spark needs {err.name}: install grpcio and grpcio-status"
        ) from None
    import great_expectations as gx

    return gx


def get_context(config: PlatformConfig):
    """The file-backed GE context of this lake (created on first use)."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = quality_root(config)
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    bars = context.variables.progress_bars
    bars_on = bars is None or (bars.get("globally", True) if isinstance(bars, dict) else bars.globally)
    if context.variables.analytics_enabled is not False or bars_on:
        context.variables.analytics_enabled = False
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
    return context


def _batch_definition(context, table_name: str):
    try:
        source = context.data_sources.get(DATA_SOURCE)
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_spark(name=DATA_SOURCE)
    try:
        asset = source.get_asset(table_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=table_name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _camel(type_name: str) -> str:
    return "".join(part.capitalize() for part in type_name.split("_"))


def ge_expectation(type_name: str, kwargs: dict):
    """A GE expectation object from its snake_case type name (``expect_column_values_to_be_unique``)."""
    import great_expectations.expectations as gxe

    cls = getattr(gxe, _camel(type_name), None)
    if cls is None:
        raise ValueError(f"Great Expectations has no expectation {type_name!r}")
    return cls(**kwargs)


@dataclass
class SuiteRun:
    outcomes: list[ExpectationOutcome]
    data_docs_path: str | None
    seconds: float


def _data_docs_path(context, identifier) -> str | None:
    try:
        urls = context.get_docs_sites_urls(resource_identifier=identifier)
    except Exception:  # Data Docs are a convenience; never fail a validation over them
        return None
    for url in urls:
        site = url.get("site_url")
        if site:
            return site.removeprefix("file://")
    return None


def _run_checkpoint(context, name: str, table: str, specs, df, result_format: dict, run_name: str):
    """Register (or refresh) suite, validation definition and checkpoint ``name``, run it once."""
    gx = import_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    expectations = [ge_expectation(spec.type, spec.kwargs) for spec in specs]
    ge_suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(
            name=f"{name}__validation", data=_batch_definition(context, table), suite=ge_suite
        )
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{name}__checkpoint",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format=result_format,
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": df}, run_id=RunIdentifier(run_name=run_name))
    identifier, validation = next(iter(result.run_results.items()))
    by_label = {}
    for item in validation.results:
        data = item.to_json_dict()
        config_dict = data.get("expectation_config") or {}
        by_label[expectation_label(config_dict.get("type", ""), config_dict.get("kwargs") or {})] = data
    return identifier, by_label


def run_suite(
    config: PlatformConfig, suite: SuiteSpec, df, key_columns: list[str], run_name: str
) -> SuiteRun:
    """Validate a Spark DataFrame with a suite through checkpoints; also updates Data Docs.

    Two passes, because GE's detailed result formats cost 2-3 extra Spark jobs per column
    expectation even when nothing fails (measured: 2.4k rows, 38 expectations, 13 s in
    SUMMARY against 3 s in BOOLEAN_ONLY). Pass one decides pass/fail for the whole suite;
    pass two re-runs only the failing expectations in SUMMARY format to get counts and
    example rows named by the contract key.
    """
    started = time.perf_counter()
    context = get_context(config)
    identifier, results = _run_checkpoint(
        context, suite.name, suite.table, suite.expectations, df, {"result_format": "BOOLEAN_ONLY"}, run_name
    )
    failing = [spec for spec in suite.expectations if not (results.get(spec.label) or {}).get("success")]
    if failing:
        detail_format = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": config.quality.example_count,
            "unexpected_index_column_names": list(key_columns),
        }
        identifier, details = _run_checkpoint(
            context,
            f"{suite.name}__failures",
            suite.table,
            failing,
            df,
            detail_format,
            f"{run_name}-failures",
        )
        results.update(details)
        # GE has stored the failing values (validation results, Data Docs) as they are; the
        # secrets among them are masked in those files before anyone can read them.
        scrub_tree(quality_root(config), secrets_of_results(details.values()))
    # GE normalises kwargs (1 -> 1.0), so results are matched to specs by their label.
    outcomes = [
        outcome_from_ge(
            results.get(spec.label) or _missing_result(spec),
            spec.source,
            config.quality.example_count,
            config.quality.example_chars,
        )
        for spec in suite.expectations
    ]
    return SuiteRun(outcomes, _data_docs_path(context, identifier), time.perf_counter() - started)


def _missing_result(spec) -> dict:
    # Should not happen; if GE ever drops a result, count it as a failure rather than a pass.
    return {
        "success": False,
        "expectation_config": {"type": spec.type, "kwargs": spec.kwargs},
        "exception_info": {"raised_exception": True, "exception_message": "no result returned by GE"},
    }
