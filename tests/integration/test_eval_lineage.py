"""Model resolution, held-out version choice and contamination warnings from real ops tables (delta-rs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from data_platform.ops.records import append_rows
from tests.fixtures.evaluate import (
    fixture_gold_rows,
    publish,
    record_ingest_run,
    record_training_run,
    write_gold,
)
from training.evaluation.lineage import (
    LineageError,
    ModelRef,
    contamination_warnings,
    decontaminated_benchmarks,
    heldout_target,
    resolve_model,
)

pytestmark = pytest.mark.integration


def test_run_id_and_export_directory_resolve_to_the_same_lineage(lake_config, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    record_training_run(lake_config, "run-9", export, 4)
    by_run = resolve_model(lake_config, "run-9")
    by_dir = resolve_model(lake_config, str(export))
    assert by_run.load_spec == by_dir.load_spec == str(export.resolve())
    assert (by_dir.training_run_id, by_dir.table_version, by_dir.base_model) == ("run-9", 4, "tiny")


def test_unusable_models_are_refused_before_loading(lake_config, tmp_path):
    record_training_run(lake_config, "run-no-export", None, 1)
    with pytest.raises(LineageError, match="no export directory"):
        resolve_model(lake_config, "run-no-export")
    with pytest.raises(LineageError, match="not a run id"):
        resolve_model(lake_config, "typo-run")
    assert resolve_model(lake_config, "smollm2").training_run_id is None
    assert resolve_model(lake_config, "org/model").load_spec == "org/model"
    assert resolve_model(lake_config, str(tmp_path)).training_run_id is None


def test_heldout_version_prefers_explicit_then_trained_then_latest_published(lake_config):
    assert heldout_target(lake_config, [ModelRef("smollm2", "smollm2")]) is None  # no gold yet
    first = write_gold(lake_config, fixture_gold_rows())
    second = write_gold(lake_config, fixture_gold_rows("ingest-2"))
    publish(lake_config, second)
    base = ModelRef("smollm2", "smollm2")
    tuned = ModelRef("run-1", "/x", "run-1", str(lake_config.lake.table_path("gold.training_corpus")), first)
    assert heldout_target(lake_config, [base]).table_version == second
    target = heldout_target(lake_config, [base, tuned])
    assert target.table_version == first and "run-1" in target.reason
    assert any("never published" in warning for warning in target.warnings)
    assert heldout_target(lake_config, [base, tuned], explicit_version=second).table_version == second


def test_decontamination_evidence_from_the_ingest_run(lake_config):
    version = write_gold(lake_config, fixture_gold_rows())
    tuned = ModelRef("run-1", "/x", "run-1", None, version)
    assert decontaminated_benchmarks(lake_config, version) is None
    assert "no ingest run recorded" in contamination_warnings(lake_config, tuned, "humaneval")[0]
    record_ingest_run(
        lake_config,
        "ingest-1",
        version,
        "decontamination:\n  enabled: true\n  humaneval: true\n  benchmark_files: [/b/mbpp.jsonl]\n",
    )
    assert decontaminated_benchmarks(lake_config, version) == {"humaneval", "mbpp.jsonl"}
    assert contamination_warnings(lake_config, tuned, "humaneval") == []
    assert "may be inflated" in contamination_warnings(lake_config, tuned, "mine.jsonl")[0]
    assert contamination_warnings(lake_config, ModelRef("smollm2", "smollm2"), "humaneval") == []


def test_stage_counts_also_count_as_evidence(lake_config):
    version = write_gold(lake_config, fixture_gold_rows())
    append_rows(
        lake_config,
        "ops.ingest_runs",
        [
            {
                "run_id": "ingest-7",
                "status": "succeeded",
                "started_at": datetime.now(UTC),
                "sources": [],
                "stage_counts": {"decontaminate.humaneval": 2},
                "table_versions": {"gold.training_corpus": version},
                "error_count": 0,
                "config_yaml": "",
                "code_version": "t",
            }
        ],
    )
    assert decontaminated_benchmarks(lake_config, version) == {"humaneval"}
