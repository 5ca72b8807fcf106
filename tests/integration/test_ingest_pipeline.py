"""`codemill ingest` end to end on real Spark + Delta with fixture repositories built by git.

One scenario, run in order to keep Spark time down: crawl everything, re-crawl (no table
changes), modify one file and delete two (only their rows change), `--prune-missing` refused
then applied, then a run in which every source fails.
"""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable

from codemill.cli.main import main as codemill_main
from data_platform.ingest.run import run_ingest
from tests.conftest import make_config
from tests.fixtures.ingest import (
    bare_license_free_repo,
    code_repo,
    commit_all,
    gpl_repo,
    zip_slip_archive,
)

pytestmark = pytest.mark.integration
TABLES = ("bronze.repos", "bronze.files", "bronze.file_contents", "silver.files", "silver.functions")


def _rows(config, table: str) -> list[dict]:
    return DeltaTable(str(config.lake.table_path(table))).to_pyarrow_table().to_pylist()


def codemill_main_ok(argv: list[str]) -> None:
    """`codemill …` in this process (it reuses the session's Spark); success exits 0 or returns."""
    try:
        codemill_main(argv)
    except SystemExit as done:
        assert done.code in (0, None), done.code


def _versions(config) -> dict[str, int]:
    return {table: DeltaTable(str(config.lake.table_path(table))).version() for table in TABLES}


def test_crawl_curate_recrawl_modify(spark, tmp_path):
    code = code_repo(tmp_path / "code")
    gpl = gpl_repo(tmp_path / "gpl")
    bare = bare_license_free_repo(tmp_path / "plain.git")
    slip = zip_slip_archive(tmp_path / "slip.zip")
    stack = tmp_path / "stack.jsonl"
    stack.write_text(
        json.dumps({"max_stars_repo_name": "octo/kit", "max_stars_repo_path": "kit/util.py", "max_stars_count": 42,
                    "max_stars_repo_licenses": ["Apache-2.0"], "content": "def util():\n    return 0\n"})
        + "\n{broken json\n"
    )
    plain = tmp_path / "plain-dir"
    (plain / "lib").mkdir(parents=True)
    (plain / "lib" / "keep.py").write_text("def keep():\n    return 1\n")
    (plain / "lib" / "gone.py").write_text("def gone():\n    return 2\n")
    sources = [str(code), f"file://{gpl}", str(bare), str(slip), str(stack), str(plain), str(tmp_path / "missing")]
    config = make_config(tmp_path / "lake", "ingest.max_file_bytes=50000", f"ingest.cache_dir={tmp_path}/cache")
    lines: list[str] = []

    first = run_ingest(spark, config, sources, run_id="run-1", echo=lines.append)

    assert first.status == "partial" and first.failed_sources == [str(tmp_path / "missing")]
    assert any("Spark UI" in line for line in lines) and any("files/s" in line for line in lines)
    repos = {r["repo_name"]: r for r in _rows(config, "bronze.repos")}
    assert {name: (r["source_kind"], r["license_spdx"], r["license_class"]) for name, r in repos.items()} == {
        "code": ("git", "MIT", "permissive"),
        str(gpl).strip("/").split("/")[-2] + "/gpl": ("remote_git", "GPL-3.0", "non_permissive"),
        "plain": ("git", None, "none"),
        "slip": ("archive", None, "none"),
        "octo/kit": ("dataset", "Apache-2.0", "permissive"),
        "plain-dir": ("directory", None, "none"),
    }
    assert repos["octo/kit"]["stars"] == 42 and repos["octo/kit"]["repo_url"] == "https://github.com/octo/kit"
    bronze = {r["path"]: r for r in _rows(config, "bronze.files") if r["repo_id"] == repos["code"]["repo_id"]}
    assert {"src/pkg/__init__.py", ".github/workflows/ci.yml", "src/pkg/empty.py", "assets/logo.png"} <= set(bronze)
    assert bronze["src/pkg/empty.py"]["size_bytes"] == 0 and "content" not in bronze["src/pkg/empty.py"]
    assert "data/huge.txt" not in bronze and "passwd-link" not in bronze
    # Raw bytes apart, under the restricted prefix: one row per bronze.files row, same version, file_id as silver.
    assert config.lake.table_path("bronze.file_contents").is_relative_to(config.lake.restricted_root)
    contents = {(r["repo_id"], r["path"]): r for r in _rows(config, "bronze.file_contents")}
    assert {(r["repo_id"], r["path"], r["blob_sha"]) for r in _rows(config, "bronze.files")} == {
        (key[0], key[1], r["blob_sha"]) for key, r in contents.items()}
    code_id = repos["code"]["repo_id"]
    assert contents[(code_id, "src/pkg/empty.py")]["content"] == b""
    assert contents[(code_id, "src/pkg/core.py")]["content"] == (code / "src/pkg/core.py").read_bytes()
    assert len(contents[(code_id, "src/pkg/core.py")]["content"]) == bronze["src/pkg/core.py"]["size_bytes"]

    silver = {r["path"]: r for r in _rows(config, "silver.files")}
    assert contents[(code_id, "src/pkg/core.py")]["file_id"] == silver["src/pkg/core.py"]["file_id"]
    expected_languages = {"src/pkg/core.py": "python", "src/web/app.js": "javascript", "src/web/util.ts": "typescript",
                          "java/demo/Main.java": "java", "go/sum.go": "go", "rust/src/lib.rs": "rust",
                          "c/say.c": "c", "scripts/build.sh": "bash", "lib/tool.rb": "ruby", "pkg/ok.py": "python"}
    assert {path: silver[path]["language"] for path in expected_languages} == expected_languages
    assert silver["src/pkg/core.py"]["license_class"] == "permissive"
    assert (silver["kit/util.py"]["license_spdx"], silver["kit/util.py"]["function_count"]) == ("Apache-2.0", 1)
    assert silver["main.py"]["license_class"] == "non_permissive" and silver["lib/tool.rb"]["license_class"] == "none"
    assert silver["assets/logo.png"]["is_binary"] and silver["assets/logo.png"]["text"] is None
    assert silver["vendor/left-pad/index.js"]["is_vendored"] and silver["proto/api_pb2.py"]["is_generated"]
    assert not silver["src/pkg/core.py"]["is_vendored"] and not silver["src/pkg/core.py"]["is_generated"]
    assert silver["src/contact.py"]["pii_email_count"] == 1 and "jane.doe" not in silver["src/contact.py"]["text"]
    assert silver["src/pkg/core.py"]["function_count"] == 2 and silver["src/pkg/core.py"]["class_count"] == 1
    assert silver["src/pkg/core.py"]["dup_cluster_id"] is None  # left to the dedup stage

    functions = {(f["path"], f["name"]): f for f in _rows(config, "silver.functions")}
    assert functions[("src/pkg/core.py", "greet")]["kind"] == "method"
    assert functions[("src/pkg/core.py", "add")]["docstring"] == "Return the sum of a and b."
    assert functions[("go/sum.go", "Sum")]["docstring"] == "Sum adds the numbers."
    assert functions[("java/demo/Main.java", "Main")]["kind"] == "class"

    errors = {(e["path"], e["kind"]) for e in _rows(config, "ops.ingest_errors") if e["run_id"] == "run-1"}
    assert errors == {("data/huge.txt", "too_large"), ("passwd-link", "symlink"), ("assets/logo.png", "binary"),
                      ("data/broken.txt", "undecodable"), ("../../evil.py", "path_escape"),
                      ("/abs/evil2.py", "path_escape"), ("", "missing_path"), ("stack.jsonl:line2", "bad_row")}
    run = next(r for r in _rows(config, "ops.ingest_runs") if r["run_id"] == "run-1")
    assert run["status"] == "partial" and run["error_count"] == 8 and run["finished_at"] is not None
    assert dict(run["table_versions"])["silver.files"] == _versions(config)["silver.files"]
    assert dict(run["stage_counts"])["curate.files"] == len(silver)

    # Re-crawl unchanged sources: no bronze/silver table gets a new version.
    before = _versions(config)
    second = run_ingest(spark, config, sources, run_id="run-2", echo=lines.append)
    assert _versions(config) == before
    assert second.counts["list.unchanged_sources"] == 5  # every snapshot already recorded: not even read
    assert second.counts["crawl.changed_files"] == 0 and second.counts.get("curate.files", 0) == 0

    # Modify one file and delete another upstream, and delete a file of the plain directory:
    # only the modified file's bronze/silver rows (and its functions) change, the deleted ones leave.
    core = code / "src" / "pkg" / "core.py"
    core.write_text(core.read_text().replace("def add(a, b):", "def add_numbers(a, b):"))
    (code / "scripts" / "build.sh").unlink()
    commit_all(code, "rename add, drop build.sh")
    (plain / "lib" / "gone.py").unlink()
    silver_before = _versions(config)["silver.files"]
    third = run_ingest(spark, config, sources, run_id="run-3", echo=lines.append)
    assert third.counts["prune.deleted_files"] == 2
    changed = {(r["path"], r["run_id"]) for r in _rows(config, "silver.files") if r["run_id"] == "run-3"}
    assert changed == {("src/pkg/core.py", "run-3")}
    assert {r["path"] for r in _rows(config, "bronze.files") if r["run_id"] == "run-3"} == {"src/pkg/core.py"}
    assert {r["path"] for r in _rows(config, "bronze.file_contents") if r["run_id"] == "run-3"} == {"src/pkg/core.py"}
    names = {f["name"] for f in _rows(config, "silver.functions") if f["path"] == "src/pkg/core.py"}
    assert names == {"add_numbers", "Greeter", "greet"}
    assert len([r for r in _rows(config, "bronze.repos") if r["repo_name"] == "code"]) == 2  # two snapshots
    for table in TABLES[1:]:
        paths = {r["path"] for r in _rows(config, table)}
        assert not paths & {"scripts/build.sh", "lib/gone.py"}, table
    assert "lib/keep.py" in {r["path"] for r in _rows(config, "silver.files")}
    old_silver = DeltaTable(str(config.lake.table_path("silver.files")), version=silver_before).to_pyarrow_table()
    assert {"scripts/build.sh", "lib/gone.py"} <= set(old_silver.column("path").to_pylist())  # time travel

    # --prune-missing with a source that cannot be read: refused, nothing removed.
    kept = sorted(r["repo_name"] for r in _rows(config, "bronze.repos"))
    codemill_main_ok(["ingest", "--source", str(code), "--source", str(tmp_path / "gone"), "--run-id", "run-p1",
                      "--curate-only", "--prune-missing", f"lake.root={config.lake.root}"])  # partial: exit 0
    assert sorted(r["repo_name"] for r in _rows(config, "bronze.repos")) == kept
    assert ("", "prune_refused") in {(e["path"], e["kind"]) for e in _rows(config, "ops.ingest_errors")
                                     if e["run_id"] == "run-p1"}
    # --prune-missing with every source readable: repositories not named this run leave every table.
    codemill_main_ok(["ingest", "--source", str(code), "--source", str(stack), "--run-id", "run-p2", "--curate-only",
                      "--prune-missing", f"lake.root={config.lake.root}"])
    left = {r["repo_id"] for r in _rows(config, "bronze.repos")}
    assert {r["repo_name"] for r in _rows(config, "bronze.repos")} == {"code", "octo/kit"}
    for table in TABLES[1:]:
        assert {r["repo_id"] for r in _rows(config, table)} <= left, table

    # Every source failing: status failed, `codemill ingest` exits 1 with one summary line.
    with pytest.raises(SystemExit) as exit_info:  # the CLI reuses this process's Spark session
        codemill_main(["ingest", "--source", str(tmp_path / "gone"), "--run-id", "run-4", "--curate-only",
                       f"lake.root={config.lake.root}"])
    assert exit_info.value.code == 1
    run4 = next(r for r in _rows(config, "ops.ingest_runs") if r["run_id"] == "run-4")
    assert run4["status"] == "failed" and run4["error_count"] == 1
