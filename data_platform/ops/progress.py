"""Progress of a long Spark stage: one line every few seconds with the tasks done so far.

A crawl or curation of a real corpus runs for minutes as one Spark action, and the stage's
own line comes only at its end. Spark's status tracker knows how many tasks of the running
jobs are done; :class:`SparkProgress` polls it from a daemon thread and prints a line when the
count moved, so a long stage shows it is alive without Spark's own console bar (which the
quiet console turns off).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def describe_active_tasks(tracker) -> str | None:
    """``"12/40 tasks done, 2 running"`` over every active Spark stage; None when no task runs
    (between jobs, or a stage waiting for the driver: nothing to report)."""
    infos = [info for info in (tracker.getStageInfo(i) for i in tracker.getActiveStageIds()) if info is not None]
    if not infos:
        return None
    done = sum(info.numCompletedTasks for info in infos)
    total = sum(info.numTasks for info in infos)
    running = sum(info.numActiveTasks for info in infos)
    if not running:
        return None
    return f"{done:,}/{total:,} tasks done, {running} running"


class SparkProgress:
    """Context manager: while the block runs, ``say`` a task count every ``every_s`` seconds."""

    def __init__(self, spark, say: Callable[[str], None], every_s: float = 15.0):
        self.spark, self.say, self.every_s = spark, say, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SparkProgress:
        if self.spark is not None and self.every_s > 0:
            self._thread = threading.Thread(target=self._poll, name="spark-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _poll(self) -> None:
        tracker = self.spark.sparkContext.statusTracker()
        last = None
        while not self._stop.wait(self.every_s):
            try:
                line = describe_active_tasks(tracker)
            except Exception:  # the session is stopping: progress is best effort, never an error
                return
            if line is not None and line != last:
                self.say(line)
                last = line
