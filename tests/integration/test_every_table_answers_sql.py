"""Every table of schemas/ answers `codemill sql` by name, whichever engine wrote it; small corpora train.

One fresh lake, every command run as a user runs it (a new `codemill` process each):

1. `codemill ingest` on three small repositories of real code (one with a blob missing from
   its object store): Spark writes bronze/silver/gold, delta-rs writes the ops.* rows;
2. `codemill train` on the published version (named in its output and in ops.training_runs with
   the gate result that published it), a corpus of a few hundred tokens, far below one global
   batch: it must train (padded and repeated) with a warning, then resume;
3. `codemill eval --completions`: writes ops.eval_results;
4. `codemill sql`: every contract table on disk, queried by name, row counts equal to what
   delta-rs reads from the files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from data_platform.contracts import all_contracts
from data_platform.lake import is_delta_table
from data_platform.publication import latest_published_version
from tests.conftest import make_config
from tests.fixtures.ingest import commit_all, git
from tests.fixtures.repos import license_text, package_sources, remove_blob, write_tree
from training.evaluation.problems import load_problems

# Several engine start-ups (Spark, Ray): room for a shared, busy machine (CI runs alone).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]

CODEMILL = [sys.executable, "-m", "codemill.cli.main"]
# Written by the commands below, whatever else the contracts hold.
WRITTEN = {"bronze.repos", "bronze.files", "bronze.file_contents", "silver.files", "silver.functions", "silver.minhash",
           "gold.training_corpus", "ops.ingest_runs", "ops.ingest_errors", "ops.quality_results",
           "ops.training_runs", "ops.eval_results"}
SETTINGS = [
    "gold.split_ratios={train: 1.0, valid: 0.0, test: 0.0}",  # three repositories: all of them train
    "quality.validate_tables=[]", "quality.report_after_ingest=false",  # only the gold gate: fewer GX runs
]
TRAIN = ["--model", "tiny", "--workers", "2", "--zero-stage", "2", "train.seq_len=512", "train.micro_batch_size=4",
         "train.eval_every=0", "train.checkpoint_every=1", "train.warmup_steps=0", "train.export=false"]


def codemill(lake: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CODEMILL_LAKE"}
    engine = ["spark.master=local[2]", "spark.shuffle_partitions=2"]  # as the in-process tests' sessions
    return subprocess.run([*CODEMILL, *args, f"lake.root={lake}", *engine], capture_output=True, text=True, env=env,
                          timeout=timeout)


def small_repo(root: Path, modules: dict[str, tuple[str, str]]) -> Path:
    """A repository of a few small real modules: name → (package, module file)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write_tree(root, {path: package_sources(package)[module] for path, (package, module) in modules.items()})
    write_tree(root, {"LICENSE": license_text("MIT")})  # gold admits permissive licenses only by default
    commit_all(root, "import")
    return root


def test_every_written_table_answers_sql_and_a_tiny_corpus_trains(tmp_path):
    lake = tmp_path / "lake"
    repos = [
        small_repo(tmp_path / "colors", {"colors/__init__.py": ("termcolor", "__init__.py"),
                                         "colors/url.py": ("mdurl", "_url.py")}),
        small_repo(tmp_path / "ini", {"ini/exceptions.py": ("iniconfig", "exceptions.py")}),
        small_repo(tmp_path / "shells", {"shells/core.py": ("shellingham", "_core.py"),
                                         "shells/__init__.py": ("shellingham", "__init__.py"),
                                         "shells/format.py": ("mdurl", "_format.py")}),
    ]
    remove_blob(repos[2], "shells/format.py")
    sources = [arg for repo in repos for arg in ("--source", str(repo))]

    ingest = codemill(lake, "ingest", *sources, "--run-id", "sql-1", *SETTINGS)
    assert ingest.returncode == 0, ingest.stdout[-3000:] + ingest.stderr[-3000:]
    assert "published gold.training_corpus" in ingest.stdout
    # The ingest addresses tables by path: its session neither boots the lake's Derby metastore nor
    # names tables (the `codemill sql` below still answers every one by name).
    assert not (make_config(lake).lake.metastore_dir / "metastore_db").exists()

    first = codemill(lake, "train", *TRAIN, "--max-steps", "2", "--run-name", "tiny-corpus")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "steps: 2" in first.stdout
    # The CLI ingest's published version is the one trained on, and the run says by which gate result
    # (moved here from test_whole_chain.py, which no longer trains).
    published = latest_published_version(make_config(lake))
    assert published is not None
    assert f"version {published.table_version} (published by {published.quality_result_id})" in first.stdout
    assert "warning: the train split packs into" in first.stdout and "fewer than one global batch" in first.stdout
    # Every step was one whole (repeated) epoch: the resume starts at an epoch boundary.
    resumed = codemill(lake, "train", *TRAIN, "--max-steps", "3", "--run-name", "tiny-corpus")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "steps: 3" in resumed.stdout

    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p.task_id, "completion": p.canonical_solution}) + "\n"
                               for p in load_problems("humaneval")[:2]))
    evaluated = codemill(lake, "eval", "--completions", str(samples))
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]

    config = make_config(lake)
    on_disk = {name for name in all_contracts() if is_delta_table(config.lake.table_path(name))}
    assert WRITTEN <= on_disk
    query = " UNION ALL ".join(f"SELECT '{name}' AS table_name, count(*) AS row_count FROM {name}"
                               for name in sorted(on_disk))
    answered = codemill(lake, "sql", query, "--format", "json", "--allow-restricted")  # bronze.file_contents too
    assert answered.returncode == 0, answered.stderr[-3000:]
    counts = {row["table_name"]: row["row_count"] for row in json.loads(answered.stdout)}
    files = {name: DeltaTable(str(config.lake.table_path(name))).to_pyarrow_table().num_rows for name in on_disk}
    assert counts == files
    assert all(counts[name] > 0 for name in WRITTEN), counts

    details = codemill(lake, "sql",
                       "SELECT path, kind FROM ops.ingest_errors; "
                       "SELECT status, steps FROM ops.training_runs WHERE run_id = 'tiny-corpus'; "
                       "SELECT published FROM ops.quality_results WHERE table_name = 'gold.training_corpus'",
                       "--format", "csv")
    assert details.returncode == 0, details.stderr[-3000:]
    assert "shells/format.py,missing_object" in details.stdout
    assert "succeeded,3" in details.stdout and "true" in details.stdout.lower()
    (run,) = [row for row in DeltaTable(str(config.lake.table_path("ops.training_runs"))).to_pyarrow_table().to_pylist()
              if row["run_id"] == "tiny-corpus"]
    assert (run["status"], run["table_version"], run["quality_result_id"], run["steps"]) == (
        "succeeded", published.table_version, published.quality_result_id, 3)
