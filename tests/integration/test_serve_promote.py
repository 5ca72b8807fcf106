"""`codemill promote`: only succeeded, exported and evaluated runs (or --force), recorded with metrics."""

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from serving.model_source import choose_model
from serving.promotion import newest_promotion
from tests.conftest import make_config
from tests.fixtures.serve import REPO, register_fim_run
from training.evaluation import results

pytestmark = pytest.mark.integration


def codemill(lake, *args):
    return subprocess.run([sys.executable, "-m", "codemill.cli.main", *args, f"lake.root={lake}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_promote_records_the_evaluation_and_serve_picks_the_newest(tmp_path):
    lake = tmp_path / "lake"
    config = make_config(lake)
    assert choose_model(config).id == "smollm2"  # nothing promoted: the embedded model
    export = tmp_path / "export"
    export.mkdir()
    register_fim_run(config, "run-a", export)
    refused = codemill(lake, "promote", "run-a")
    assert refused.returncode == 2 and "no evaluation" in refused.stderr
    assert codemill(lake, "promote", "run-missing").returncode == 2
    rows = [{"benchmark": "humaneval", "metric": "pass@1", "language": "python", "value": 0.5,
             "num_samples": 2, "details_json": None}]
    results.store(config, results.with_lineage(
        rows, eval_id="e1", session_id="s", model_path=str(export), training_run_id="run-a", table_version=3,
        eval_table_version=3, evaluated_at=datetime.now(UTC)))
    done = codemill(lake, "promote", "run-a", "--note", "good enough")
    assert done.returncode == 0, done.stderr
    row = newest_promotion(config)
    assert row["run_id"] == "run-a" and row["eval_ids"] == ["e1"] and row["note"] == "good enough"
    assert json.loads(row["eval_summary_json"]) == {"humaneval": {"pass@1": {"python": 0.5}}}
    served = choose_model(config)
    assert served.id == "run-a" and served.fim.order == "psm" and "promoted" in served.chosen_because
    listed = codemill(lake, "promote", "--list")
    assert "run-a" in listed.stdout and "pass@1" in listed.stdout
