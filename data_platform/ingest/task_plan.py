"""Cut the listed files into Spark tasks of about equal work, the heaviest first.

A task's partition is crawled and then curated, and curating costs roughly in proportion to
the bytes (decode, redact, parse). Cutting each source on its own gave one task per small
source (19 tasks of 3 to 400 files for the demo corpus, each paying ~0.1 s of Spark task
overhead) and left a 400-file task to run alone at the end. Here every source is cut into
slices of at most 1/8 of a task's share of the bytes, and the slices are packed into tasks
by longest-processing-time-first; tasks are numbered heaviest first because Spark launches
partitions in index order.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from data_platform.ingest.sources import Entry, Listing
from data_platform.ingest.treesitter import supports
from data_platform.languages import detect_language

# Curating the demo corpus one file at a time fits 0.36 s per MB of text that is not parsed,
# 0.64 s per MB of a language tree-sitter parses, and well under 1 ms per file: a file costs
# its bytes, 1.8 times its bytes when parsed, plus a row's worth of overhead.
PARSED_WEIGHT = 1.8
FILE_OVERHEAD_BYTES = 1_000
UNKNOWN_SIZE_BYTES = 8_000  # what a file whose size the listing does not give is taken to weigh
SLICES_PER_TASK = 8  # slices of ≤ 1/8 of a share: packing leaves tasks within ~1/8 of each other


@dataclass(frozen=True)
class CrawlSlice:
    """Entries of one source read together: a run of loose files, or a whole stream (a tar)."""

    source_index: int
    entries: list[Entry]
    cost: int  # the entries' summed entry_cost, computed once when the slice is cut


@dataclass(frozen=True)
class CrawlTask:
    """One Spark task: one partition of slices, possibly of several sources."""

    task_id: int
    slices: list[CrawlSlice]

    @property
    def files(self) -> int:
        return sum(len(piece.entries) for piece in self.slices)

    @property
    def cost(self) -> int:
        return sum(piece.cost for piece in self.slices)


def entry_cost(entry: Entry) -> int:
    size = entry.size if entry.size is not None else UNKNOWN_SIZE_BYTES
    weight = PARSED_WEIGHT if supports(detect_language(entry.path)) else 1.0
    return int(size * weight) + FILE_OVERHEAD_BYTES


def plan_tasks(listings: list[Listing], files_per_task: int, min_tasks: int, slots: int = 1,
               task_bytes: int | None = None) -> list[CrawlTask]:
    """Tasks for every listed entry, balanced by bytes, heaviest first.

    As many as it takes for the average task to hold ≤ ``files_per_task`` files and
    ≤ ``task_bytes`` bytes, at least ``min_tasks``, and a multiple of ``slots`` (the executor
    cores running at once) so that the last round leaves no core idle."""
    total_files = sum(len(listing.entries) for listing in listings)
    if total_files == 0:
        return []
    costs = [[entry_cost(e) for e in listing.entries] for listing in listings]  # detect_language once a file
    total_cost = sum(map(sum, costs))
    count = max(min_tasks, 1, math.ceil(total_files / max(files_per_task, 1)),
                math.ceil(total_cost / task_bytes) if task_bytes else 1)
    count = math.ceil(count / max(slots, 1)) * max(slots, 1)
    budget = max(1, math.ceil(total_cost / (count * SLICES_PER_TASK)))
    slices = [piece for index, listing in enumerate(listings) for piece in _slices(index, listing, costs[index], budget)]
    return _pack(slices, count)


def plan_from_settings(listings: list[Listing], ingest, slots: int) -> list[CrawlTask]:
    """The job's plan: ``ingest`` settings (files_per_task, min_tasks, task_bytes) on ``slots`` cores."""
    return plan_tasks(listings, ingest.files_per_task, ingest.min_tasks or 2 * slots, slots, ingest.task_bytes)


def _slices(source_index: int, listing: Listing, costs: list[int], budget: int) -> list[CrawlSlice]:
    """A stream is one slice (it is read front to back once); loose files are cut in listing order."""
    streamed: list[Entry] = []
    streamed_cost = 0
    pieces: list[CrawlSlice] = []
    run: list[Entry] = []
    run_cost = 0
    for entry, cost in zip(listing.entries, costs, strict=True):
        if entry.chunk is not None:
            streamed.append(entry)
            streamed_cost += cost
            continue
        if run and run_cost + cost > budget:
            pieces.append(CrawlSlice(source_index, run, run_cost))
            run, run_cost = [], 0
        run.append(entry)
        run_cost += cost
    if run:
        pieces.append(CrawlSlice(source_index, run, run_cost))
    return [CrawlSlice(source_index, streamed, streamed_cost), *pieces] if streamed else pieces


def _pack(slices: list[CrawlSlice], count: int) -> list[CrawlTask]:
    """Longest processing time first: each slice, heaviest first, goes to the lightest task.
    Within a task, slices keep the listing order, so a source's files are read in order."""
    loads = [(0, index) for index in range(count)]
    members: list[list[int]] = [[] for _ in range(count)]
    for position in sorted(range(len(slices)), key=lambda p: slices[p].cost, reverse=True):
        load, index = heapq.heappop(loads)
        members[index].append(position)
        heapq.heappush(loads, (load + slices[position].cost, index))
    heaviest_first = sorted(loads, reverse=True)  # (final load, task index)
    filled = [[slices[p] for p in sorted(members[index])] for _, index in heaviest_first if members[index]]
    return [CrawlTask(task_id, task) for task_id, task in enumerate(filled)]
