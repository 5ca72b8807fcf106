"""`codemill eval` end to end: completions scoring, a fine-tuned run beside its base, lineage, errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_platform.ops.records import read_rows
from tests.fixtures.evaluate import (  # noqa: F401
    fixture_gold_rows,
    publish,
    record_ingest_run,
    record_training_run,
    tiny_model_dir,
    write_gold,
)
from training.evaluation.precision import resolve_precision
from training.evaluation.problems import load_problems

pytestmark = pytest.mark.integration

CODEMILL = [sys.executable, "-m", "codemill.cli.main"]


def codemill(lake_config, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CODEMILL_LAKE"}
    return subprocess.run(
        [*CODEMILL, *args, f"lake.root={lake_config.lake.root}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_scores_a_completions_file_without_a_model(lake_config, tmp_path):
    problems = load_problems("humaneval")[:5]
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        "".join(
            json.dumps(
                {"task_id": p.task_id, "completion": p.canonical_solution if i < 3 else "    return None\n"}
            )
            + "\n"
            for i, p in enumerate(problems)
        )
    )
    done = codemill(lake_config, "eval", "--completions", str(samples))
    assert done.returncode == 0, done.stderr
    assert "pass@1 0.600" in done.stdout
    report = Path(done.stdout.split("report: ")[1].split()[0])
    assert report.is_file() and report.with_name("report.json").is_file()
    (row,) = read_rows(lake_config, "ops.eval_results")
    assert (row["metric"], row["value"], row["num_samples"], row["model_path"]) == (
        "pass@1",
        0.6,
        5,
        str(samples),
    )
    assert json.loads(row["details_json"])["sandbox"] == "bwrap"
    assert "UNSANDBOXED" not in done.stdout


def test_refuses_to_run_completions_without_a_sandbox_unless_told(lake_config, tmp_path):
    problem = load_problems("humaneval")[0]
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": problem.task_id, "completion": problem.canonical_solution}) + "\n")
    no_bwrap = "eval.sandbox_bwrap=/nonexistent/bwrap"
    refused = codemill(lake_config, "eval", "--completions", str(samples), no_bwrap)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "refusing to run generated code" in refused.stderr and "--unsafe-no-sandbox" in refused.stderr
    assert read_rows(lake_config, "ops.eval_results") == []

    done = codemill(lake_config, "eval", "--completions", str(samples), "--unsafe-no-sandbox", no_bwrap)
    assert done.returncode == 0, done.stderr
    assert "pass@1 1.000 (1 problems) UNSANDBOXED" in done.stdout
    report = json.loads(Path(done.stdout.split("json:   ")[1].split()[0]).read_text())
    (model,) = report["models"]
    assert model["sandbox"] == "none" and any("WITHOUT a sandbox" in w for w in model["warnings"])
    (row,) = read_rows(lake_config, "ops.eval_results")
    assert json.loads(row["details_json"])["sandbox"] == "none"


def test_fine_tuned_run_beside_its_base_with_lineage(lake_config, tiny_model_dir):  # noqa: F811
    version = write_gold(lake_config, fixture_gold_rows())
    publish(lake_config, version)
    # The ingest run that wrote this version did not check HumanEval: expect a warning.
    record_ingest_run(
        lake_config, "ingest-1", version, "decontamination:\n  enabled: true\n  humaneval: false\n"
    )
    record_training_run(lake_config, "run-1", tiny_model_dir, version)
    done = codemill(
        lake_config,
        "eval",
        "--model",
        str(tiny_model_dir),
        "--compare",
        "run-1",
        "--limit",
        "2",
        "eval.max_new_tokens=16",
        "eval.heldout_max_tokens=64",
    )
    assert done.returncode == 0, done.stderr
    assert "no record of decontamination against humaneval" in done.stderr
    report = json.loads(Path(done.stdout.split("json:   ")[1].split()[0]).read_text())
    assert report["heldout"]["table_version"] == version
    assert len(report["models"]) == 2
    for model in report["models"]:
        assert model["training_run_id"] == "run-1"  # the directory is matched back to its run
        assert {"python", "javascript", "all"} <= set(model["heldout"])
        assert all(math.isfinite(v["loss"]) for v in model["heldout"].values())
        assert model["problems"] == 2 and 0.0 <= model["pass_at_k"]["1"] <= 1.0
        assert model["heldout_precision"] == resolve_precision("auto", "cpu")  # bf16 where it measured faster
    rows = read_rows(lake_config, "ops.eval_results")
    assert {row["benchmark"] for row in rows} == {"heldout", "humaneval"}
    held_rows = [row for row in rows if row["benchmark"] == "heldout"]
    assert {json.loads(row["details_json"])["precision"] for row in held_rows} == {resolve_precision("auto", "cpu")}
    assert {row["training_run_id"] for row in rows} == {"run-1"}
    assert {row["eval_table_version"] for row in rows} == {version}
    assert len({row["eval_id"] for row in rows}) == 2 and len({row["session_id"] for row in rows}) == 1
    assert "data:image/png;base64," in Path(done.stdout.split("report: ")[1].split()[0]).read_text()


def test_unknown_model_fails_with_one_line(lake_config):
    done = codemill(lake_config, "eval", "--model", "no-such-run", "--no-heldout")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no-such-run" in done.stderr
    assert "Traceback" not in done.stderr


def test_several_benchmarks_load_each_model_once(lake_config, tiny_model_dir, tmp_path):  # noqa: F811
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n"}) + "\n")
    refused = codemill(lake_config, "eval", "--completions", str(samples), "-b", "humaneval", "-b", "line-completion")
    assert refused.returncode == 2 and "give a single --benchmark" in refused.stderr

    version = write_gold(lake_config, fixture_gold_rows())
    publish(lake_config, version)
    record_training_run(lake_config, "run-1", tiny_model_dir, version)
    done = codemill(
        lake_config, "eval", "--model", str(tiny_model_dir), "--compare", "run-1",
        "-b", "humaneval", "-b", "line-completion", "--limit", "1",
        "eval.max_new_tokens=8", "eval.heldout_max_tokens=32", "eval.line_documents=2",
        "eval.line_max_new_tokens=8", "eval.span_max_new_tokens=8",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("loading ") == 2  # two models, each loaded once for both benchmarks
    reports = [json.loads(Path(line.split()[-1]).read_text()) for line in done.stdout.splitlines()
               if line.startswith("json:")]
    assert [report["benchmark"] for report in reports] == ["humaneval", "line-completion"]
    first, second = reports
    assert first["session_id"] != second["session_id"]
    # Held-out loss does not depend on the benchmark: measured once, with the first.
    assert all("all" in model["heldout"] for model in first["models"])
    assert not any("heldout" in model for model in second["models"])
    assert all(model["seconds"]["load"] > 0 for model in first["models"])
    assert all(model["seconds"]["load"] == 0 for model in second["models"])
    assert all(model["line_completion"]["spans"] > 0 for model in second["models"])
    rows = read_rows(lake_config, "ops.eval_results")
    assert {row["benchmark"] for row in rows} == {"heldout", "humaneval", "line-completion"}
    assert len({row["eval_id"] for row in rows}) == 4 and len({row["session_id"] for row in rows}) == 2
