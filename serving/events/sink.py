"""Completion events from editors into ``ops.completion_events`` (Delta, through delta-rs).

The API appends events to the write-ahead log (durable before it answers); a background
thread moves them to Delta in batches, every ``serve.events_flush_seconds`` or as soon as
``serve.events_flush_rows`` are waiting, and once more at shutdown. At start, whatever a
previous process left in the log is replayed first. No Spark in the server: delta-rs MERGE
on ``event_id`` (insert when not matched) makes every replay idempotent.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from data_platform.ops.records import prepare_table, rows_to_arrow
from serving.config import CodemillConfig
from serving.events.wal import WriteAheadLog

log = logging.getLogger(__name__)

EVENTS_TABLE = "ops.completion_events"
COMMIT_ATTEMPTS = 5


def events_dir(config: CodemillConfig) -> Path:
    """The write-ahead log's folder: a local one always (it is this server's durable buffer), under the
    lake when the lake is local, in the lake's cache folder on this machine when it is on object storage."""
    folder = config.serve.events_dir
    return Path(folder).expanduser() if folder else config.lake.local_dir / "_serve" / "events"


def merge_events(table_path: str, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose event_id the table does not have yet; returns rows offered."""
    from deltalake.exceptions import CommitFailedError, TableNotFoundError

    from data_platform.storage import delta_table, write_delta

    unique = list({row["event_id"]: row for row in rows}.values())
    data = rows_to_arrow(EVENTS_TABLE, unique)
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            try:
                prepare_table(EVENTS_TABLE, table_path)  # an earlier release's table gains new columns
                table = delta_table(table_path)
            except TableNotFoundError:
                write_delta(table_path, data.schema.empty_table(), mode="append")
                table = delta_table(table_path)
            (
                table.merge(data, predicate="t.event_id = s.event_id", source_alias="s", target_alias="t")
                .when_not_matched_insert_all()
                .execute()
            )
            return len(unique)
        except CommitFailedError:  # another writer committed first: re-read and retry
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
    return len(unique)


class EventSink:
    def __init__(self, config: CodemillConfig, on_pending=None) -> None:
        self.table_path = str(config.lake.table_path(EVENTS_TABLE))
        self.flush_seconds = config.serve.events_flush_seconds
        self.flush_rows = config.serve.events_flush_rows
        self.wal = WriteAheadLog(events_dir(config))
        self.on_pending = on_pending or (lambda count: None)
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.written = 0

    def start(self) -> EventSink:
        """Replay what an earlier process left, then flush in the background."""
        replayed = self.flush()
        if replayed:
            log.warning("replayed %d completion events left in the write-ahead log", replayed)
        self._thread = threading.Thread(target=self._run, name="codemill-events", daemon=True)
        self._thread.start()
        return self

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.wal.append(rows)
        self.on_pending(self.wal.pending)
        if self.wal.pending >= self.flush_rows:
            with self._wake:
                self._wake.notify()

    def flush(self) -> int:
        """Seal the log and write every sealed segment to Delta; returns rows written."""
        self.wal.seal()
        total = 0
        for segment in self.wal.segments():
            rows = self.wal.read(segment)
            if rows:
                merge_events(self.table_path, rows)
            self.wal.done(segment, len(rows))
            total += len(rows)
        self.written += total
        self.on_pending(self.wal.pending)
        return total

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(
                    lambda: self._stopping or self.wal.pending >= self.flush_rows, timeout=self.flush_seconds
                )
                stopping = self._stopping
            if stopping:
                return
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep the events in the log and try again later
                log.exception("could not write completion events to %s; they stay in the log", self.table_path)

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(30)
        try:
            self.flush()
        finally:
            self.wal.close()
