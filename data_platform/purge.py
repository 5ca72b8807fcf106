"""Purge: take a repository (or some of its paths) out of every layer, for good.

Code datasets honour opt-out requests (The Stack has one), and a leaked secret or a takedown
needs the same. Deleting rows is not enough with Delta: every older version still holds
them and time travel brings them back. So a purge

1. finds the repository by URL, path, owner/name or repo_id (user info in a URL stripped);
2. deletes its rows (or only those whose path matches ``--path-glob``) from bronze (metadata
   and bronze.file_contents), silver and gold tables, gold.quarantine, gold.repo_splits and its
   ops.ingest_errors rows, and the MinHash signatures no remaining file shares;
3. gates the new gold version (so a published version without the rows exists);
4. vacuums every changed table with ``lake.purge_retention_hours`` (default 0), which deletes
   the data files older versions need: time travel to them fails instead of showing the rows;
5. removes the remote-git cache clone of the repository;
6. records the request in ``ops.purge_requests``; later ingest runs skip the repository (or
   those paths) until ``codemill purge --lift``.

What it cannot reach: copies outside the lake (exports, checkpoints trained on older
versions, other readers' caches) and the statistics in old Delta log entries (min/max values
of the first columns, kept for ``delta.logRetentionDuration``); docs/security.md says so.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from data_platform import lake
from data_platform.config import PlatformConfig
from data_platform.ops.records import append_rows

# What ingest reads lives below ingest, so ingest can skip purged repositories without importing
# this module (which reaches into ingest's source helpers).
from data_platform.purge_policy import LIFT, PURGE, PURGE_TABLE, active_purges

# Dependants first, as --prune-missing deletes; repo-level tables only for whole-repository purges.
FILE_TABLES = ("silver.functions", "silver.doc_sections", "silver.qa_threads", "silver.files", "bronze.file_contents",
               "bronze.files", "gold.training_corpus", "gold.quarantine")
REPO_TABLES = ("bronze.repos", "gold.repo_splits")


@dataclass(frozen=True)
class Target:
    repo_id: str
    repo_url: str | None


@dataclass
class PurgeResult:
    request_id: str
    requested_as: str
    targets: list[Target]
    path_glob: str | None
    rows_removed: dict[str, int] = field(default_factory=dict)
    gold_version: int | None = None
    gold_published: bool | None = None
    vacuumed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        what = f"paths matching {self.path_glob!r} of " if self.path_glob else ""
        names = ", ".join(t.repo_url or t.repo_id for t in self.targets)
        removed = ", ".join(f"{table} {n}" for table, n in self.rows_removed.items() if n) or "no rows (none held)"
        lines = [f"purged {what}{names} (request {self.request_id}): {removed}"]
        if self.gold_version is not None:
            state = "published" if self.gold_published else "NOT published (see its quality result)"
            lines.append(f"gold.training_corpus v{self.gold_version} written without them: {state}")
        if self.vacuumed:
            lines.append(f"vacuumed {len(self.vacuumed)} table(s): older versions holding the rows are gone")
        lines += [f"note: {note}" for note in self.notes]
        return lines


def glob_regex(path_glob: str) -> str:
    """A glob (``**`` and ``*`` alike match across '/') as a Java/Python regex for Spark's rlike."""
    return "^" + fnmatch.translate(path_glob)  # (?s:…)\Z: Java's regex reads both


def _candidate_ids(requested: str) -> dict[str, str]:
    """repo_id → URL the lake would give ``requested`` as a source (URL, local path or owner/name)."""
    from data_platform.ingest.credentials import split_userinfo
    from data_platform.ingest.sources.base import stable_id
    from data_platform.ingest.sources.dataset import repo_url_for

    public = split_userinfo(requested)[0].partition("#")[0]
    candidates = {stable_id(public): public}
    local = Path(public).expanduser()
    if local.exists():
        resolved = str(local.resolve())
        candidates[stable_id(resolved)] = resolved
    if "://" not in public and public.count("/") == 1:  # owner/name, as dataset rows name repositories
        candidates[stable_id(repo_url_for(public))] = repo_url_for(public)
    return candidates


class AmbiguousRepository(ValueError):
    """A short name matches several repositories: the user must say which (URL, path or repo_id)."""


def _known_repos(spark, config: PlatformConfig):
    """(repo_id, repo_url, repo_name) of every repository the lake knows, or None for an empty lake."""
    from pyspark.sql import functions as F

    known = None
    for table in ("bronze.repos", "silver.files"):
        if lake.is_delta_table(config.lake.table_path(table)):
            rows = lake.read_table(spark, config, table)
            name = F.col("repo_name") if "repo_name" in rows.columns else F.lit(None).cast("string")
            rows = rows.select("repo_id", "repo_url", name.alias("repo_name"))
            known = rows if known is None else known.unionByName(rows)
    return known


def resolve_targets(spark, config: PlatformConfig, requested: str) -> list[Target]:
    """Repositories the lake holds under that URL, path or id (else a unique short name); else
    the ids the request would get as a source, so it can be purged before it is ever ingested."""
    from pyspark.sql import functions as F

    from data_platform.ingest.credentials import split_userinfo

    public = split_userinfo(requested)[0].partition("#")[0]
    candidates = _candidate_ids(requested)
    known = _known_repos(spark, config)
    if known is not None:
        exact = F.col("repo_id").isin([public, *candidates]) | F.col("repo_url").isin([public, *candidates.values()])
        rows = known.where(exact).select("repo_id", "repo_url").distinct().limit(1000).collect()
        if not rows:
            rows = known.where(F.col("repo_name") == public).select("repo_id", "repo_url").distinct().limit(1000).collect()
            if len({row.repo_id for row in rows}) > 1:
                urls = ", ".join(sorted({row.repo_url for row in rows}))
                raise AmbiguousRepository(f"{public!r} names {len(rows)} repositories ({urls}): give a URL or path")
        if rows:
            return sorted({Target(row.repo_id, row.repo_url) for row in rows}, key=lambda t: t.repo_id)
    return [Target(repo_id, url) for repo_id, url in sorted(candidates.items())]


def _matching(spark, config, table: str, repo_ids: list[str], path_glob: str | None):
    from pyspark.sql import functions as F

    rows = lake.read_table(spark, config, table).where(F.col("repo_id").isin(repo_ids))
    return rows.where(F.col("path").rlike(glob_regex(path_glob))) if path_glob else rows


def _delete(spark, config, table: str, condition: str) -> int:
    """DELETE rows of ``table`` matching a SQL condition; returns how many went."""
    from delta.tables import DeltaTable

    path = config.lake.table_path(table)
    if not lake.is_delta_table(path):
        return 0
    before = lake.table_version(path)
    DeltaTable.forPath(spark, str(path)).delete(condition)
    if lake.table_version(path) == before:
        return 0
    return _last_commit_count(spark, path, "numDeletedRows")


def _last_commit_count(spark, path, metric: str) -> int:
    """One operation metric of the table's latest commit (DELETE and MERGE name theirs differently)."""
    metrics = spark.sql(f"DESCRIBE HISTORY {lake.delta_path_sql(path)} LIMIT 1").first()["operationMetrics"] or {}
    return int(metrics.get(metric, 0) or 0)


def _sql_list(values) -> str:
    return ", ".join("'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'" for value in values)


def delete_rows(spark, config: PlatformConfig, targets: list[Target], path_glob: str | None) -> dict[str, int]:
    """Delete the targets' rows from every layer; returns rows removed per table."""
    ids = _sql_list(t.repo_id for t in targets)
    where = f"repo_id IN ({ids})"
    if path_glob:
        pattern = glob_regex(path_glob).replace("\\", "\\\\").replace("'", "\\'")
        where += f" AND path RLIKE '{pattern}'"
    removed = {table: _delete(spark, config, table, where) for table in FILE_TABLES}
    if not path_glob:
        removed.update({table: _delete(spark, config, table, f"repo_id IN ({ids})") for table in REPO_TABLES})
        urls = [t.repo_url for t in targets if t.repo_url]
        if urls:
            removed["ops.ingest_errors"] = _delete(spark, config, "ops.ingest_errors", f"source IN ({_sql_list(urls)})")
    removed.update(_delete_orphan_dedup_rows(spark, config))
    return removed


# Derived dedup tables and the columns naming the contents their rows were computed from.
DEDUP_TABLES = {"silver.minhash": ("exact_dup_key",), "silver.minhash_bands": ("exact_dup_key",),
                "silver.near_dup_pairs": ("a", "b")}


def _delete_orphan_dedup_rows(spark, config) -> dict[str, int]:
    """Signatures, band keys and pairs of contents no file of silver.files has any more."""
    files = config.lake.table_path("silver.files")
    if not lake.is_delta_table(files):
        return {}
    kept = lake.read_table(spark, config, "silver.files").select("exact_dup_key").distinct()
    return {name: _delete_orphans(spark, config, name, columns, kept) for name, columns in DEDUP_TABLES.items()}


def _delete_orphans(spark, config, name: str, columns: tuple[str, ...], kept) -> int:
    from delta.tables import DeltaTable

    path = config.lake.table_path(name)
    if not lake.is_delta_table(path):
        return 0
    rows = lake.read_table(spark, config, name)
    orphans = rows.limit(0).select(*columns)
    for column in columns:  # a row is an orphan when any of its contents is gone
        gone = rows.select(*columns).join(kept.withColumnRenamed("exact_dup_key", column), column, "left_anti")
        orphans = orphans.unionByName(gone)
    orphans = orphans.distinct()
    if orphans.isEmpty():
        return 0
    match = " AND ".join(f"t.`{column}` = s.`{column}`" for column in columns)
    DeltaTable.forPath(spark, str(path)).alias("t").merge(orphans.alias("s"), match).whenMatchedDelete().execute()
    return _last_commit_count(spark, path, "numTargetRowsDeleted")


def vacuum(spark, config: PlatformConfig, tables: list[str], retention_hours: int) -> list[str]:
    """VACUUM tables so data files only older versions need are deleted now (not after 7 days)."""
    from data_platform.vacuum import vacuum_now

    done = []
    for table in tables:
        path = config.lake.table_path(table)
        if lake.is_delta_table(path):
            vacuum_now(spark, lake.delta_path_sql(path), retention_hours)
            done.append(table)
    return done


def _drop_clone(config: PlatformConfig, targets: list[Target]) -> None:
    import hashlib

    for target in targets:
        if target.repo_url and "://" in target.repo_url:
            clone = Path(config.ingest.cache_dir) / (hashlib.sha1(target.repo_url.encode()).hexdigest()[:16] + ".git")
            shutil.rmtree(clone, ignore_errors=True)


def purge(spark, config: PlatformConfig, requested: str, path_glob: str | None = None, reason: str | None = None,
          gate: bool = True) -> PurgeResult:
    """Carry out one purge request (see the module docstring); returns what it did."""
    from data_platform.ingest.credentials import redact_credentials

    lake.init_tables(spark, config, [PURGE_TABLE])
    targets = resolve_targets(spark, config, requested)
    result = PurgeResult(uuid.uuid4().hex[:16], redact_credentials(requested), targets, path_glob)
    result.rows_removed = delete_rows(spark, config, targets, path_glob)
    if result.rows_removed.get("gold.training_corpus") and gate:
        from data_platform.quality import gate_gold

        outcome = gate_gold(spark, config, f"purge-{result.request_id}", None)
        result.gold_version, result.gold_published = outcome.version, outcome.published
        if not outcome.published:
            result.notes.append("the gold version without these rows did not pass its gate; after the vacuum, "
                                "older published versions cannot be read either: rerun `codemill ingest --refine`")
    changed = [table for table, n in result.rows_removed.items() if n]
    retention = config.lake.purge_retention_hours
    result.vacuumed = vacuum(spark, config, changed, retention) if changed else []
    _drop_clone(config, targets)
    append_rows(config, PURGE_TABLE, [_request_row(result, target, reason, PURGE, retention if changed else None)
                                      for target in targets])
    return result


def lift(config: PlatformConfig, requested_ids: list[str], requested_as: str, path_glob: str | None) -> int:
    """Let later ingests crawl these repositories (or paths) again; returns the requests lifted."""
    active = [r for r in active_purges(config) if r["repo_id"] in requested_ids and r["path_glob"] == path_glob]
    if active:
        now = datetime.now(UTC)
        append_rows(config, PURGE_TABLE, [
            {**row, "request_id": uuid.uuid4().hex[:16], "requested_as": requested_as, "action": LIFT,
             "rows_removed_json": "{}", "gold_version": None, "vacuum_retention_hours": None, "requested_at": now}
            for row in active
        ])
    return len(active)


def _request_row(result: PurgeResult, target: Target, reason: str | None, action: str, retention) -> dict:
    return {
        "request_id": result.request_id, "repo_id": target.repo_id, "repo_url": target.repo_url,
        "requested_as": result.requested_as, "path_glob": result.path_glob, "reason": reason,
        "rows_removed_json": json.dumps(result.rows_removed, sort_keys=True), "gold_version": result.gold_version,
        "vacuum_retention_hours": retention, "action": action, "requested_at": datetime.now(UTC),
    }
