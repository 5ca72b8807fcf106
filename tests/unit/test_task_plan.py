"""Crawl tasks: every listed file in exactly one task, tasks of about equal work, heaviest first.

The listings are installed packages' sources (the standard library's ``email``, ``json``,
``asyncio``, ``xml`` and ``unittest`` folders): real sources of very different sizes, as a
crawl of several repositories sees them.
"""

from __future__ import annotations

import asyncio
import email
import json
import unittest
import xml
from pathlib import Path

import pytest

from data_platform.ingest.sources import Entry, Limits, list_source
from data_platform.ingest.task_plan import (
    FILE_OVERHEAD_BYTES,
    PARSED_WEIGHT,
    UNKNOWN_SIZE_BYTES,
    entry_cost,
    plan_tasks,
)

LIMITS = Limits(max_file_bytes=1_000_000, archive_max_total_bytes=10_000_000, archive_max_ratio=100.0)
PACKAGES = (email, json, asyncio, xml, unittest)


@pytest.fixture(scope="module")
def listings():
    return [list_source(str(Path(package.__file__).parent), LIMITS) for package in PACKAGES]


def _placed(tasks) -> list[tuple[int, str]]:
    return [(piece.source_index, entry.locator) for task in tasks for piece in task.slices for entry in piece.entries]


def test_every_listed_file_is_in_exactly_one_task(listings):
    tasks = plan_tasks(listings, files_per_task=2_000, min_tasks=4, slots=2)
    placed = _placed(tasks)
    listed = [(index, entry.locator) for index, listing in enumerate(listings) for entry in listing.entries]
    assert len(placed) == len(set(placed)) == len(listed)
    assert set(placed) == set(listed)


def test_a_task_reads_each_source_in_listing_order(listings):
    position = {(index, entry.locator): n for index, listing in enumerate(listings)
                for n, entry in enumerate(listing.entries)}
    for task in plan_tasks(listings, files_per_task=2_000, min_tasks=4, slots=2):
        for source in {piece.source_index for piece in task.slices}:
            seen = [position[(source, e.locator)] for p in task.slices if p.source_index == source for e in p.entries]
            assert seen == sorted(seen)


def test_tasks_carry_about_equal_work_heaviest_first(listings):
    sources = [sum(entry_cost(e) for e in listing.entries) for listing in listings]
    tasks = plan_tasks(listings, files_per_task=2_000, min_tasks=4, slots=2)
    costs = [task.cost for task in tasks]
    mean = sum(costs) / len(costs)
    assert costs == sorted(costs, reverse=True)
    # One task per source would leave the largest source's task at this share of the whole:
    assert max(sources) / sum(sources) > 0.3
    # Packed slices of ≤ 1/8 of a share keep every task within 1/8 of the mean.
    assert max(costs) <= mean * 1.13 and min(costs) >= mean * 0.87


def test_task_count_follows_min_tasks_slots_files_and_bytes(listings):
    files = sum(len(listing.entries) for listing in listings)
    cost = sum(entry_cost(e) for listing in listings for e in listing.entries)
    roomy = {"files_per_task": 10 * files, "task_bytes": None}
    assert len(plan_tasks(listings, min_tasks=3, slots=2, **roomy)) == 4  # whole rounds of the slots
    # ≤ files/7 files per task on average: 7 tasks; ≤ bytes/5 per task: 5, rounded up to 6 for 2 slots.
    assert len(plan_tasks(listings, files_per_task=-(-files // 7), min_tasks=1, slots=1)) == 7
    assert len(plan_tasks(listings, files_per_task=10 * files, min_tasks=1, slots=2, task_bytes=-(-cost // 5))) == 6


def test_no_empty_tasks_when_the_slots_outnumber_the_files(listings):
    tasks = plan_tasks([listings[1]], files_per_task=2_000, min_tasks=64, slots=2)
    assert all(task.files for task in tasks)
    assert sum(task.files for task in tasks) == len(listings[1].entries)
    assert plan_tasks([], files_per_task=10, min_tasks=4) == []


def test_parsed_languages_weigh_more_than_text():
    python, text = Entry("a.py", "a.py", 10_000), Entry("a.txt", "a.txt", 10_000)
    assert entry_cost(python) == int(10_000 * PARSED_WEIGHT) + FILE_OVERHEAD_BYTES
    assert entry_cost(text) == 10_000 + FILE_OVERHEAD_BYTES
    assert entry_cost(Entry("b.txt", "b.txt", None)) == UNKNOWN_SIZE_BYTES + FILE_OVERHEAD_BYTES


def test_a_stream_is_never_split(tmp_path):
    import tarfile

    path = tmp_path / "src.tar"
    with tarfile.open(path, "w") as archive:
        for package in PACKAGES[:2]:
            archive.add(Path(package.__file__).parent, arcname=package.__name__)
    listing = list_source(str(path), LIMITS)
    assert len(listing.entries) > 20 and all(entry.chunk is not None for entry in listing.entries)
    tasks = plan_tasks([listing], files_per_task=1, min_tasks=8, slots=2)
    assert [len(task.slices) for task in tasks] == [1]
    assert tasks[0].files == len(listing.entries)
