"""`codemill purge` on a real lake: rows leave every layer, old versions cannot bring them back,
later ingests skip the repository until the purge is lifted (real Spark, Delta, GE)."""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable

from codemill.cli.main import main as codemill_main
from data_platform.ingest.finish import ingest_stages, pipeline_stages
from data_platform.ingest.run import run_ingest
from data_platform.ops.records import read_rows
from data_platform.publication import latest_published_version
from data_platform.purge import lift, purge
from data_platform.purge_policy import PurgePolicy
from tests.conftest import make_config
from tests.fixtures.ingest import commit_all
from tests.fixtures.repos import package_repo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

SETTINGS = ["quality.validate_tables=[]", "quality.report_after_ingest=false",
            "gold.split_ratios={train: 1.0, valid: 0.0, test: 0.0}"]
LAYERS = ("bronze.repos", "bronze.files", "bronze.file_contents", "silver.files", "silver.functions", "gold.training_corpus",
          "gold.repo_splits")


def _rows(config, table: str, version: int | None = None) -> list[dict]:
    return DeltaTable(str(config.lake.table_path(table)), version=version).to_pyarrow_table().to_pylist()


def _version(config, table: str) -> int:
    return DeltaTable(str(config.lake.table_path(table))).version()


@pytest.fixture(scope="module")
def purged_lake(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("purge")
    config = make_config(root / "lake", *SETTINGS)
    alpha = package_repo(root / "alpha", "mdurl", {"config/prod.env": "DB_PASSWORD=hunter2\n"})
    beta = package_repo(root / "beta", "iniconfig", {"deploy/keys/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n"})
    sources = [str(alpha), str(beta)]
    first = run_ingest(spark, config, sources, run_id="p-1", stages=pipeline_stages(), echo=lambda line: None)
    assert first.status == "succeeded", first.summary_lines() if hasattr(first, "summary_lines") else first
    repo_id = {row["repo_name"]: row["repo_id"] for row in _rows(config, "bronze.repos")}
    before = {table: _version(config, table) for table in LAYERS}
    # a path purge: only beta's key file goes
    by_glob = purge(spark, config, str(beta), path_glob="deploy/*", reason="test: one path")
    whole = purge(spark, config, str(alpha), reason="test: opt-out")
    (beta / "README.md").write_text("# iniconfig\n\nChanged after the purge.\n")
    commit_all(beta, "a new snapshot: the purged path is listed again and must be skipped")
    second = run_ingest(spark, config, sources, run_id="p-2", stages=ingest_stages(curate_only=True),
                        echo=lambda line: None)
    return dict(config=config, ids=repo_id, before=before, by_glob=by_glob, whole=whole, second=second,
                alpha=alpha, beta=beta)


def test_whole_repository_leaves_every_layer_and_a_gated_gold_version_is_published(purged_lake):
    config, ids, whole = purged_lake["config"], purged_lake["ids"], purged_lake["whole"]
    alpha = ids["alpha"]
    assert [t.repo_id for t in whole.targets] == [alpha]
    for table in LAYERS:
        assert not [row for row in _rows(config, table) if row["repo_id"] == alpha], table
    assert whole.rows_removed["bronze.files"] > 0 and whole.rows_removed["gold.training_corpus"] > 0
    assert whole.rows_removed["bronze.file_contents"] == whole.rows_removed["bronze.files"]
    assert "bronze.file_contents" in whole.vacuumed
    assert whole.gold_published and latest_published_version(config).table_version == whole.gold_version
    beta_rows = [row for row in _rows(config, "gold.training_corpus") if row["repo_id"] == ids["beta"]]
    assert beta_rows  # the other repository is untouched


def test_time_travel_cannot_bring_purged_rows_back(purged_lake):
    config, ids, before = purged_lake["config"], purged_lake["ids"], purged_lake["before"]
    for table in ("bronze.files", "bronze.file_contents", "silver.files", "gold.training_corpus"):
        try:
            old = _rows(config, table, before[table])
        except Exception:  # the data files that version needs were vacuumed
            continue
        assert not [row for row in old if row["repo_id"] == ids["alpha"]], table


def test_path_glob_purges_only_those_paths(purged_lake):
    config, ids, by_glob = purged_lake["config"], purged_lake["ids"], purged_lake["by_glob"]
    beta_paths = {row["path"] for row in _rows(config, "silver.files") if row["repo_id"] == ids["beta"]}
    assert beta_paths and "deploy/keys/id_rsa" not in beta_paths and "README.md" in beta_paths
    assert by_glob.rows_removed["silver.files"] == 1 and by_glob.rows_removed["bronze.files"] == 1
    assert by_glob.rows_removed["bronze.file_contents"] == 1
    contents = {r["path"] for r in _rows(config, "bronze.file_contents") if r["repo_id"] == ids["beta"]}
    assert contents and "deploy/keys/id_rsa" not in contents
    assert by_glob.gold_version is None or by_glob.gold_published  # gold held it (redacted): gated again
    assert {row["repo_id"] for row in _rows(config, "bronze.repos")} == {ids["beta"]}  # beta has 2 snapshots by now


def test_request_is_recorded_and_later_ingests_skip_until_lifted(purged_lake):
    config, ids, second = purged_lake["config"], purged_lake["ids"], purged_lake["second"]
    assert second.status != "failed"  # beta was read; a purged source is a skip, not a failure
    requests = read_rows(config, "ops.purge_requests")
    whole = [row for row in requests if row["repo_id"] == ids["alpha"]]
    assert len(whole) == 1 and whole[0]["action"] == "purge" and whole[0]["reason"] == "test: opt-out"
    assert json.loads(whole[0]["rows_removed_json"])["bronze.files"] > 0
    assert whole[0]["vacuum_retention_hours"] == 0
    # the re-ingest skipped alpha (one row saying so) and kept beta's purged path out
    errors = [row for row in _rows(config, "ops.ingest_errors") if row["run_id"] == "p-2"]
    assert [row["kind"] for row in errors if row["kind"] == "purged"] == ["purged"]
    assert not [row for row in _rows(config, "bronze.files") if row["repo_id"] == ids["alpha"]]
    assert "deploy/keys/id_rsa" not in {r["path"] for r in _rows(config, "bronze.files") if r["repo_id"] == ids["beta"]}
    assert ids["alpha"] in PurgePolicy.load(config).repos
    engine = [f"lake.root={config.lake.root}", "spark.master=local[2]", "spark.shuffle_partitions=2"]
    with pytest.raises(SystemExit) as lifted:  # the command line, as a user lifts it
        codemill_main(["purge", "--repo", str(purged_lake["alpha"]), "--lift", *engine])
    assert lifted.value.code == 0
    assert ids["alpha"] not in PurgePolicy.load(config).repos
    assert lift(config, [ids["alpha"]], "again", None) == 0  # nothing left to lift
    assert PurgePolicy.load(config).skips_path(ids["beta"], "deploy/keys/id_rsa")  # the path purge still holds
