"""A run killed (SIGKILL) at any stage boundary is finished by the next run; deletions propagate.

Two repositories of real code are ingested whole (in this process). Then one of them gets a
new commit that changes a module (a function renamed), adds one and deletes one, and the
re-crawl is killed for real — a `codemill ingest` process that ``CODEMILL_TEST_KILL_AT``
makes SIGKILL itself — at each boundary in turn, each killed run inheriting what the previous
one left: after bronze, between silver.functions and silver.files, inside refine, inside the
gate. After every kill the test checks that the killed run completed its predecessor's
leftovers and that every table is at a committed version; a final run completes the last,
and one more run changes nothing.

Four process starts cover the four boundaries (each run is killed at the next boundary, so it
must first get past the previous one): half the Spark start-ups of a kill-and-rerun pair per
boundary.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from data_platform.ingest.finish import pipeline_stages
from data_platform.ingest.run import run_ingest
from data_platform.ops.crashpoints import BOUNDARIES, ENV_VAR
from data_platform.publication import latest_published_version
from tests.conftest import make_config
from tests.fixtures.ingest import commit_all, git
from tests.fixtures.repos import package_repo, package_sources

# Four Spark start-ups and seven ingest runs: give a shared, busy machine room (CI runs alone).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]

SETTINGS = ["quality.validate_tables=[]", "quality.report_after_ingest=false"]
FILE_TABLES = ("bronze.files", "bronze.file_contents", "silver.files", "silver.functions")
CHANGED, ADDED, DELETED = "src/mdurl/_format.py", "src/mdurl/extra.py", "src/mdurl/_encode.py"


def _rows(config, table: str, version: int | None = None) -> list[dict]:
    return DeltaTable(str(config.lake.table_path(table)), version=version).to_pyarrow_table().to_pylist()


def _version(config, table: str) -> int:
    return DeltaTable(str(config.lake.table_path(table))).version()


def _paths(config, table: str, repo_id: str, version: int | None = None) -> dict[str, dict]:
    return {row["path"]: row for row in _rows(config, table, version) if row["repo_id"] == repo_id}


def _killed_run(config, lake: Path, sources: list[str], boundary: str, run_id: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "CODEMILL_LAKE"}
    env[ENV_VAR] = boundary
    overrides = [f"lake.root={lake}", "spark.master=local[2]", "spark.shuffle_partitions=2", *SETTINGS]
    done = subprocess.run([sys.executable, "-m", "codemill.cli.main", "ingest", "--run-id", run_id,
                           *[arg for source in sources for arg in ("--source", source)], *overrides],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == -9, f"{boundary}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert f"at {boundary}" in done.stdout
    for table in (*FILE_TABLES, "bronze.repos", "gold.training_corpus"):
        _rows(config, table)  # every table opens at its last committed version
    return done.stdout


def _functions_of(config, repo_id: str, path: str) -> set[str]:
    return {row["name"] for row in _rows(config, "silver.functions") if row["repo_id"] == repo_id
            and row["path"] == path}


def test_killed_at_every_boundary_the_next_run_finishes_and_deletions_propagate(spark, tmp_path):
    lake = tmp_path / "lake"
    config = make_config(lake, *SETTINGS)
    alpha = package_repo(tmp_path / "alpha", "mdurl")
    beta = package_repo(tmp_path / "beta", "iniconfig")
    sources = [str(alpha), str(beta)]
    first = run_ingest(spark, config, sources, run_id="base", stages=pipeline_stages(), echo=lambda line: None)
    assert first.status == "succeeded"
    repo_id = next(r["repo_id"] for r in _rows(config, "bronze.repos") if r["repo_name"] == "alpha")
    base_gold = latest_published_version(config).table_version
    assert DELETED in _paths(config, "gold.training_corpus", repo_id)
    assert "format" in _functions_of(config, repo_id, CHANGED)

    # Upstream: a function renamed, a module added, a module deleted.
    (alpha / CHANGED).write_text(package_sources("mdurl")["_format.py"].replace("def format(", "def format_url("))
    (alpha / ADDED).write_text('def extra_helper(value):\n    """Return value unchanged."""\n    return value\n')
    git(alpha, "rm", "-q", DELETED)
    commit_all(alpha, "rename format, add extra, drop _encode")
    new_blob = git(alpha, "rev-parse", f"HEAD:{CHANGED}")

    assert BOUNDARIES == ("after_bronze", "after_functions", "refine", "gate")
    _killed_run(config, lake, sources, "after_bronze", "k1")
    assert _paths(config, "bronze.files", repo_id)[CHANGED]["blob_sha"] == new_blob
    assert _paths(config, "bronze.file_contents", repo_id)[CHANGED]["blob_sha"] == new_blob  # written first
    assert _paths(config, "silver.files", repo_id)[CHANGED]["blob_sha"] != new_blob

    _killed_run(config, lake, sources, "after_functions", "k2")
    assert "format_url" in _functions_of(config, repo_id, CHANGED)  # k1's bronze curated
    assert ADDED not in _paths(config, "silver.files", repo_id)  # killed before silver.files
    for table in FILE_TABLES:  # the deletion reached every file table
        assert DELETED not in _paths(config, table, repo_id), table

    _killed_run(config, lake, sources, "refine", "k3")  # must first finish k2's half-written curation
    silver = _paths(config, "silver.files", repo_id)
    assert silver[CHANGED]["blob_sha"] == new_blob and ADDED in silver
    assert "format" not in _functions_of(config, repo_id, CHANGED)
    assert "extra_helper" in _functions_of(config, repo_id, ADDED)
    assert _version(config, "gold.training_corpus") == base_gold

    _killed_run(config, lake, sources, "gate", "k4")  # nothing new to curate: refines because gold is behind
    gold = _paths(config, "gold.training_corpus", repo_id)
    assert _version(config, "gold.training_corpus") > base_gold
    assert DELETED not in gold and ADDED in gold and gold[CHANGED]["commit_sha"] == git(alpha, "rev-parse", "HEAD")
    assert latest_published_version(config).table_version == base_gold  # not published before its gate
    assert {r["commit_sha"] for r in _rows(config, "bronze.repos") if r["repo_id"] == repo_id} == {
        git(alpha, "rev-parse", "HEAD~1")}  # the new snapshot is not recorded by any killed run

    gated = _version(config, "gold.training_corpus")
    versions = {table: _version(config, table) for table in (*FILE_TABLES, "gold.training_corpus")}
    final = run_ingest(spark, config, sources, run_id="final", stages=pipeline_stages(), echo=lambda line: None)
    assert final.status == "succeeded" and {table: _version(config, table) for table in versions} == versions
    assert latest_published_version(config).table_version == gated  # k4's ungated version, gated now
    assert len([r for r in _rows(config, "bronze.repos") if r["repo_id"] == repo_id]) == 2
    results = [r for r in _rows(config, "ops.quality_results") if r["table_name"] == "gold.training_corpus"]
    assert sorted(r["table_version"] for r in results) == [base_gold, gated]  # each version gated exactly once

    # Rerunning changes nothing, and time travel still shows the deleted file.
    quiet = {table: _version(config, table) for table in (*versions, "bronze.repos", "ops.quality_results")}
    again = run_ingest(spark, config, sources, run_id="again", stages=pipeline_stages(), echo=lambda line: None)
    assert again.status == "succeeded" and {table: _version(config, table) for table in quiet} == quiet
    assert DELETED in _paths(config, "gold.training_corpus", repo_id, version=base_gold)
    assert DELETED in _paths(config, "silver.files", repo_id, version=first.table_versions["silver.files"])
