"""What a purge leaves behind for ingest: which repositories and paths later runs must skip.

Kept apart from :mod:`data_platform.purge` (which deletes and vacuums, and needs ingest's source
helpers to resolve a repository) so that ingest can read the policy without an import cycle.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from data_platform.config import PlatformConfig
from data_platform.ops.records import read_rows

PURGE_TABLE = "ops.purge_requests"
PURGE = "purge"
LIFT = "lift"


def active_purges(config: PlatformConfig) -> list[dict]:
    """The latest row per (repo_id, path_glob) whose action is purge: what ingest must skip."""
    latest: dict[tuple, dict] = {}
    for row in sorted(read_rows(config, PURGE_TABLE), key=lambda r: r["requested_at"]):
        latest[(row["repo_id"], row["path_glob"])] = row
    return [row for row in latest.values() if row["action"] == PURGE]


@dataclass(frozen=True)
class PurgePolicy:
    """What ingest skips: whole repositories, and path globs per repository."""

    repos: frozenset[str] = frozenset()
    globs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, config: PlatformConfig) -> PurgePolicy:
        rows = active_purges(config)
        globs: dict[str, list[str]] = {}
        for row in rows:
            if row["path_glob"]:
                globs.setdefault(row["repo_id"], []).append(row["path_glob"])
        return cls(frozenset(r["repo_id"] for r in rows if not r["path_glob"]),
                   {repo: tuple(patterns) for repo, patterns in globs.items()})

    def skips_path(self, repo_id: str, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.globs.get(repo_id, ()))
