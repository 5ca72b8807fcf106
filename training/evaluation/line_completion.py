"""Line completion on the gold test split: the editor's everyday task, measured per language.

The test split holds repositories the model never trained on (the split is by repository).
From each sampled document one line is chosen and the cursor put inside it, after its
indentation and at most half-way through its code; the model must write the rest of that
line. Each span is asked twice: **without suffix** (the prefix only: a cursor at the end of
a file) and **with suffix** (the rest of the file after the line, in the model's FIM format;
a model that never learned FIM gets the prefix only, as ``codemill serve`` gives it).

Sampling is deterministic: documents are ranked per language by a hash of ``(seed, doc_id)``
and the first ``per_language`` kept (streamed, a small heap per language, no table is
materialised); the line and cursor come from a generator seeded the same way. The same
gold version and seed give the same spans, whatever order the table is read in.

Metrics (trailing whitespace ignored): **exact match**, and **edit similarity**
``1 - levenshtein(prediction, target) / max(len(prediction), len(target))`` (1 when both
are empty), as CodeXGLUE and RepoBench report line completion.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from training.evaluation.problems import Problem
from training.evaluation.stats import bootstrap_interval

BENCHMARK = "line-completion"
WITH_SUFFIX, WITHOUT_SUFFIX = "line-with-suffix", "line"
ALL_LANGUAGES = "all"
MIN_LINE_CHARS = 6  # shorter lines ("}", "else:") say little about a model


@dataclass(frozen=True)
class LineSpan:
    task_id: str  # <doc_id>:<line number>
    language: str
    prefix: str
    target: str  # the rest of the line after the cursor
    suffix: str  # the rest of the file after the line (starts with a newline)

    def as_task(self, with_suffix: bool) -> Problem:
        """A task for :func:`training.evaluation.infill_generate.generate_infills`."""
        return Problem(
            self.task_id, self.prefix, "", "", self.target, self.suffix if with_suffix else "",
            source_task_id=self.task_id,
        )


def _rank(seed: int, doc_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\0{doc_id}".encode()).digest()


def choose_span(doc_id: str, language: str, text: str, seed: int, max_prefix: int, max_suffix: int) -> LineSpan | None:
    """One line of ``text`` with a cursor inside it, or None when no line is long enough."""
    lines = text.split("\n")
    candidates = [n for n, line in enumerate(lines) if len(line.strip()) >= MIN_LINE_CHARS]
    if not candidates:
        return None
    rng = random.Random(_rank(seed, doc_id))
    number = rng.choice(candidates)
    line = lines[number]
    indent = len(line) - len(line.lstrip())
    content = line.rstrip()[indent:]
    cursor = indent + rng.randint(0, len(content) // 2)
    start = sum(len(earlier) + 1 for earlier in lines[:number])
    prefix = text[: start + cursor][-max_prefix:]
    suffix = text[start + len(line) :][:max_suffix]
    return LineSpan(f"{doc_id}:{number}", language, prefix, line[cursor:].rstrip(), suffix)


def sample_spans(
    documents: Iterable[tuple[str, str, str]],
    per_language: int,
    seed: int = 0,
    max_prefix: int = 2000,
    max_suffix: int = 1000,
) -> list[LineSpan]:
    """Spans of the ``per_language`` lowest-ranked documents of each language, in rank order."""
    heaps: dict[str, list] = {}
    for doc_id, language, text in documents:
        heap = heaps.setdefault(language, [])
        # Max-heap on rank (negated bytes are not orderable: invert them) keeps the smallest.
        item = (bytes(255 - b for b in _rank(seed, doc_id)), doc_id, text)
        if len(heap) < per_language:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    spans = []
    for language in sorted(heaps):
        for _, doc_id, text in sorted(heaps[language], reverse=True):
            span = choose_span(doc_id, language, text, seed, max_prefix, max_suffix)
            if span is not None:
                spans.append(span)
    return spans


def stream_test_documents(table_path: str, version: int, split: str = "test") -> Iterator[tuple[str, str, str]]:
    """(doc_id, language, text) of one split of a gold version, streamed by delta-rs."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    dataset = DeltaTable(str(table_path), version=version).to_pyarrow_dataset()
    scanner = dataset.scanner(columns=["doc_id", "language", "text"], filter=ds.field("split") == split, batch_size=1024)
    for batch in scanner.to_batches():
        yield from zip(*(batch.column(name).to_pylist() for name in ("doc_id", "language", "text")), strict=True)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), two rows of the DP table."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def edit_similarity(prediction: str, target: str) -> float:
    prediction, target = prediction.rstrip(), target.rstrip()
    longest = max(len(prediction), len(target))
    return 1.0 if longest == 0 else 1.0 - levenshtein(prediction, target) / longest


def exact_match(prediction: str, target: str) -> float:
    return float(prediction.rstrip() == target.rstrip())


def score_rows(spans: Sequence[LineSpan], predictions: dict[str, str], task_type: str, seed: int = 0) -> list[dict]:
    """exact_match and edit_similarity per language and over all, with bootstrap intervals."""
    by_language: dict[str, list[LineSpan]] = {}
    for span in spans:
        by_language.setdefault(span.language, []).append(span)
    groups = {**by_language, ALL_LANGUAGES: list(spans)} if spans else {}
    rows = []
    for language, members in groups.items():
        for metric, score in (("exact_match", exact_match), ("edit_similarity", edit_similarity)):
            values = {span.task_id: [score(predictions.get(span.task_id, ""), span.target)] for span in members}
            mean = sum(v[0] for v in values.values()) / len(values)
            rows.append(
                {
                    "benchmark": BENCHMARK,
                    "task_type": task_type,
                    "metric": metric,
                    "language": language,
                    "value": mean,
                    "num_samples": len(members),
                    "ci95": bootstrap_interval(values, seed),
                }
            )
    return rows


def complete_lines(generator, spans: Sequence[LineSpan], sampling, seed: int = 0) -> tuple[list[dict], dict]:
    """Greedy line completions with and without suffix → (metric rows, report summary).

    ``generator`` is a :mod:`training.evaluation.generators` object (a model or an endpoint).
    """
    from dataclasses import replace

    greedy = replace(sampling, samples=1, temperature=0.0)
    rows, summary = [], {"spans": len(spans), "fim": generator.fim_label, "examples": []}
    for task_type, with_suffix in ((WITHOUT_SUFFIX, False), (WITH_SUFFIX, True)):
        tasks = [span.as_task(with_suffix) for span in spans]
        middles = generator.infills(tasks, greedy, "single-line")
        predictions = {task_id: batch[0] for task_id, batch in middles.items()}
        rows += score_rows(spans, predictions, task_type, seed)
        summary["examples"] += [
            {"task_id": s.task_id, "task_type": task_type, "target": s.target, "prediction": predictions[s.task_id]}
            for s in spans[:5]
        ]
    summary["metrics"] = {
        f"{row['task_type']}/{row['language']}/{row['metric']}": row["value"] for row in rows
    }
    return rows, summary
