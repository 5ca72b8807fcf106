"""A write-ahead log of completion events: nothing acknowledged is lost if the server dies.

Events are appended as JSON lines to ``current.jsonl`` and fsync'ed before the API answers.
To flush, the current file is *sealed* (renamed to ``segment-<ns>.jsonl``, a new current
file started); sealed segments are written to Delta and deleted only after the Delta commit.
A process killed at any point leaves its events in ``current.jsonl`` or in a segment; the
next start seals and replays them. Rows carry an ``event_id`` and Delta is written with a
MERGE on it, so a segment replayed after a commit it already made adds nothing twice.

One server owns a log directory at a time (an exclusive ``flock`` on ``.lock``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CURRENT = "current.jsonl"


class WalLockedError(RuntimeError):
    pass


def _encode(row: dict[str, Any]) -> str:
    return json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()})


def _decode(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None  # a line torn by a crash mid-write: it was never acknowledged
    if isinstance(row, dict) and isinstance(row.get("occurred_at"), str):
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    return row if isinstance(row, dict) else None


class WriteAheadLog:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.folder / ".lock", "w")  # noqa: SIM115 - held for the log's lifetime
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise WalLockedError(
                f"another server writes events to {self.folder}; give this one its own serve.events_dir"
            ) from None
        self._mutex = threading.Lock()
        self._current = open(self.folder / CURRENT, "a", encoding="utf-8")  # noqa: SIM115
        self.pending = self._count(self.folder / CURRENT)

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Durably add rows (written and fsync'ed before returning)."""
        data = "".join(_encode(row) + "\n" for row in rows)
        with self._mutex:
            self._current.write(data)
            self._current.flush()
            os.fsync(self._current.fileno())
            self.pending += len(rows)

    def seal(self) -> None:
        """Close the current file as a segment (if it has rows) and start a new one."""
        with self._mutex:
            if self._current.tell() == 0:
                return
            self._current.close()
            os.replace(self.folder / CURRENT, self.folder / f"segment-{time.time_ns():020d}.jsonl")
            self._current = open(self.folder / CURRENT, "a", encoding="utf-8")  # noqa: SIM115

    def segments(self) -> list[Path]:
        return sorted(self.folder.glob("segment-*.jsonl"))

    @staticmethod
    def read(segment: Path) -> list[dict[str, Any]]:
        rows = []
        for line in segment.read_text(encoding="utf-8").splitlines():
            row = _decode(line)
            if row is None:
                log.warning("skipping an unreadable line in %s", segment)
            else:
                rows.append(row)
        return rows

    def done(self, segment: Path, rows: int) -> None:
        segment.unlink(missing_ok=True)
        with self._mutex:
            self.pending = max(0, self.pending - rows)

    @staticmethod
    def _count(path: Path) -> int:
        try:
            with open(path, encoding="utf-8") as handle:
                return sum(1 for _ in handle)
        except OSError:
            return 0

    def close(self) -> None:
        with self._mutex:
            self._current.close()
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()
