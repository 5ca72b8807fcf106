"""Planned crawl tasks become Spark partitions as planned, and curation keeps them.

Installed standard-library packages are the sources: the planner packs slices of several
sources into each task, and the executors must read exactly those files in that partition,
so that curation (which runs on the crawl's partitions) gets the balance the plan computed.
"""

from __future__ import annotations

import email
import json
import xml
from pathlib import Path

import pytest

from data_platform.ingest.crawl import crawled_dataframe
from data_platform.ingest.curate import CurateLimits, curated_dataframe
from data_platform.ingest.sources import Limits, list_source
from data_platform.ingest.task_plan import plan_tasks

pytestmark = pytest.mark.integration

LIMITS = Limits(max_file_bytes=1_000_000, archive_max_total_bytes=10_000_000, archive_max_ratio=100.0)


def test_each_task_is_one_partition_and_curation_keeps_it(spark):
    from pyspark.sql import functions as F

    listings = [list_source(str(Path(package.__file__).parent), LIMITS) for package in (email, json, xml)]
    tasks = plan_tasks(listings, files_per_task=2_000, min_tasks=4, slots=2)
    assert len(tasks) == 4 and any(len({p.source_index for p in task.slices}) > 1 for task in tasks)
    planned = {(listings[p.source_index].info.repo_id, e.path): task.task_id
               for task in tasks for p in task.slices for e in p.entries}

    crawled = crawled_dataframe(spark, listings, tasks, LIMITS).localCheckpoint(eager=True)
    assert crawled.rdd.getNumPartitions() == len(tasks)
    read = {(r.repo_id, r.path): r.part for r in
            crawled.select("repo_id", "path", F.spark_partition_id().alias("part")).collect()}
    assert read == planned  # every file read, in its planned task (task i is partition i)

    curated = curated_dataframe(spark, crawled.where(F.col("error_kind").isNull()), {}, CurateLimits())
    parts = {(r.repo_id, r.path): r.part for r in
             curated.select("repo_id", "path", F.spark_partition_id().alias("part")).collect()}
    assert parts == {key: part for key, part in planned.items() if key in parts}
    assert len(parts) == sum(1 for r in crawled.select("error_kind").collect() if r.error_kind is None)
