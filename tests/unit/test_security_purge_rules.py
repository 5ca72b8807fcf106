"""Purge rules without Spark: which paths a glob takes, which requests are active after lifts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from data_platform.ops.records import append_rows
from data_platform.purge import glob_regex
from data_platform.purge_policy import PURGE_TABLE, PurgePolicy, active_purges


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("config/*.env", "config/prod.env", True),
        ("config/*.env", "src/config/prod.env", False),  # anchored at the start, as fnmatch is
        ("**/secrets/*", "a/b/secrets/key.pem", True),
        ("README*", "README.md", True),
        ("README*", "docs/README.md", False),
        ("*.py", "pkg/mod.py", True),  # '*' crosses '/' (fnmatch semantics)
    ],
)
def test_glob_regex_agrees_with_the_ingest_side_check(glob, path, matches):
    assert bool(re.search(glob_regex(glob), path)) is matches  # rlike semantics: search, anchored by ^
    assert PurgePolicy(globs={"r": (glob,)}).skips_path("r", path) is matches


def _row(repo_id, action, minutes, glob=None):
    return {"request_id": f"{repo_id}-{action}-{minutes}", "repo_id": repo_id, "repo_url": None,
            "requested_as": repo_id, "path_glob": glob, "reason": None, "rows_removed_json": "{}",
            "gold_version": None, "vacuum_retention_hours": None, "action": action,
            "requested_at": datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=minutes)}


def test_latest_request_per_repository_and_glob_decides(lake_config):
    append_rows(lake_config, PURGE_TABLE, [
        _row("a", "purge", 1), _row("a", "lift", 2),            # lifted
        _row("b", "lift", 1), _row("b", "purge", 3),            # purged again after a lift
        _row("c", "purge", 1, glob="*.env"),                    # a path purge only
    ])
    assert {(r["repo_id"], r["path_glob"]) for r in active_purges(lake_config)} == {("b", None), ("c", "*.env")}
    policy = PurgePolicy.load(lake_config)
    assert policy.repos == frozenset({"b"})
    assert policy.skips_path("c", "prod.env") and not policy.skips_path("c", "main.py")
