"""Crawl: sources → ``bronze.repos`` / ``bronze.files`` / ``bronze.file_contents``, bytes read on executors.

The driver lists each source (metadata only) and cuts the listings into tasks of about equal
bytes (``task_plan``); a DataFrame holds one row per slice of a source, one task per
partition, and ``mapInArrow`` reads the bytes on executors. Spark's ``binaryFile`` reader is
not used: it skips names starting with ``_`` or ``.`` and empty files.

Incremental: crawled rows are anti-joined with bronze on (repo_id, path, blob_sha), so only
new or changed files reach the MERGE, and a crawl that changed nothing writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from functools import partial

import pyarrow as pa

from data_platform.contracts import arrow_type, contract
from data_platform.ingest import errors as E
from data_platform.ingest.sources import Entry, Limits, Listing, SourceInfo, read_entries
from data_platform.ingest.sources.base import git_blob_sha
from data_platform.ingest.sources.dataset import repo_id_for, repo_url_for
from data_platform.ingest.task_plan import CrawlTask

TASK_SCHEMA = "task_id INT, source_index INT, entries STRING"
# A crawled row: the bronze.files columns the crawl knows (the write adds run_id/crawled_at),
# plus working columns that feed other tables and are dropped by name before the bronze
# MERGE (the lake refuses columns a contract lacks): the source spec and error detail for
# ops.ingest_errors, and per-repository values for bronze.repos.
_BRONZE_COLUMNS = [c for c in contract("bronze.files").column_names if c not in ("run_id", "crawled_at")]
_CONTENT_COLUMNS = ["content"]  # bronze.file_contents: the restricted bytes, written apart (stages.CrawlFiles)
_REPO_COLUMNS = ["repo_name", "stars", "license_spdx"]
_ERROR_COLUMNS = {"source": "source", "error_kind": "kind", "error_message": "message"}  # ours → ops.ingest_errors
CRAWL_WORKING_COLUMNS = (*_ERROR_COLUMNS, *_REPO_COLUMNS)
_BRONZE, _REPOS, _ERRORS = contract("bronze.files"), contract("bronze.repos"), contract("ops.ingest_errors")
_CONTENTS = contract("bronze.file_contents")
_CRAWLED = [
    *((name, _BRONZE.column(name).type) for name in _BRONZE_COLUMNS),
    *((name, _CONTENTS.column(name).type) for name in _CONTENT_COLUMNS),
    *((name, _REPOS.column(name).type) for name in _REPO_COLUMNS),
    *((ours, _ERRORS.column(theirs).type) for ours, theirs in _ERROR_COLUMNS.items()),
]
# All nullable: an error row has no bytes, a good row no error.
CRAWLED_SCHEMA = pa.schema([pa.field(name, arrow_type(type_name), True) for name, type_name in _CRAWLED])
CRAWLED_DDL = ", ".join(f"`{name}` {type_name}" for name, type_name in _CRAWLED)


def task_rows(tasks: list[CrawlTask]) -> list[list[tuple[int, int, str]]]:
    """Per task, one row per slice: (task_id, source_index, entries as JSON)."""
    return [[(task.task_id, piece.source_index, json.dumps([asdict(e) for e in piece.entries]))
             for piece in task.slices] for task in tasks]


def crawl_task(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[dict]:
    """Row function: the crawled rows of one task (plain Python, used by Spark and the benchmark)."""
    known = {entry.path: entry.blob_sha for entry in entries}
    for record in read_entries(info, entries, limits):
        row = {
            "source": info.spec,
            "repo_id": info.repo_id,
            "repo_url": info.repo_url,
            "repo_name": info.repo_name,
            "commit_sha": info.commit_sha,
            "path": record.path,
            "content": record.content,
            "size_bytes": len(record.content) if record.content is not None else None,
            "blob_sha": None,
            "stars": record.stars,
            "license_spdx": record.license_spdx,
            "error_kind": record.error_kind,
            "error_message": record.error_message,
        }
        if record.repo_name is not None:  # dataset rows name their own repository
            row["repo_name"] = record.repo_name
            row["repo_url"] = repo_url_for(record.repo_name)
            row["repo_id"] = repo_id_for(record.repo_name)
        if record.content is not None:
            row["blob_sha"] = known.get(record.path) or git_blob_sha(record.content)
        yield row


def _rows_to_batch(rows: list[dict]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({name: [r[name] for r in rows] for name in CRAWLED_SCHEMA.names},
                                      schema=CRAWLED_SCHEMA)


def crawl_partition(batches, infos: list[str], limits: Limits, batch_rows: int = 256):
    """``mapInArrow`` body: task rows in, crawled rows out in bounded Arrow batches."""
    parsed = [SourceInfo.from_json(text) for text in infos]
    for batch in batches:
        for source_index, entries_json in zip(
            batch.column("source_index").to_pylist(), batch.column("entries").to_pylist(), strict=True
        ):
            entries = [Entry(**entry) for entry in json.loads(entries_json)]
            info = parsed[source_index]
            pending: list[dict] = []
            try:
                for row in crawl_task(info, entries, limits):
                    pending.append(row)
                    if len(pending) >= batch_rows:
                        yield _rows_to_batch(pending)
                        pending = []
            except Exception as err:  # a reader bug must cost one task's files, not the run
                pending.append(_task_failure(info, err))
            if pending:
                yield _rows_to_batch(pending)


def _task_failure(info: SourceInfo, err: Exception) -> dict:
    row = dict.fromkeys(CRAWLED_SCHEMA.names)
    row.update(source=info.spec, repo_id=info.repo_id, repo_url=info.repo_url, repo_name=info.repo_name,
               commit_sha=info.commit_sha, path="", error_kind=E.UNREADABLE,
               error_message=f"task failed: {type(err).__name__}: {err}")
    return row


def crawled_dataframe(spark, listings: list[Listing], tasks: list[CrawlTask], limits: Limits):
    """A DataFrame of crawled rows (bytes or error), computed lazily on executors."""
    # One element per task, one task per partition, expanded into its slices' rows there.
    rdd = spark.sparkContext.parallelize(task_rows(tasks), max(1, len(tasks))).flatMap(lambda rows: rows)
    task_df = spark.createDataFrame(rdd, TASK_SCHEMA)
    infos = [listing.info.to_json() for listing in listings]
    return task_df.mapInArrow(partial(crawl_partition, infos=infos, limits=limits), CRAWLED_DDL)
