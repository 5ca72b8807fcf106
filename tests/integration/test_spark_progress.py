"""A long Spark stage reports its task count while it runs, and says nothing when idle."""

from __future__ import annotations

import re
import time

import pytest

from data_platform.ops.progress import SparkProgress, describe_active_tasks

pytestmark = pytest.mark.integration


def test_a_running_job_is_reported_with_its_task_counts(spark):
    def slow(x):  # defined here so the Python workers receive it by value
        import time

        time.sleep(1.5)
        return x

    lines: list[str] = []
    with SparkProgress(spark, lines.append, every_s=0.5):
        spark.sparkContext.parallelize(range(4), 4).map(slow).collect()
    assert lines, "no progress line during a 3 s job"
    counts = [tuple(map(int, re.match(r"(\d+)/(\d+) tasks done, (\d+) running$", line).groups())) for line in lines]
    assert all(total == 4 and 0 <= done < 4 and running > 0 for done, total, running in counts)
    assert len(set(lines)) == len(lines)  # a line only when the count moved


def test_nothing_is_reported_between_jobs(spark):
    assert describe_active_tasks(spark.sparkContext.statusTracker()) is None
    lines: list[str] = []
    with SparkProgress(spark, lines.append, every_s=0.2):
        time.sleep(0.7)
    assert lines == []
