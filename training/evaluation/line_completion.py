"""Line and span completion on the gold test split: the editor's everyday tasks, per language.

The test split holds repositories the model never trained on (the split is by repository).
From each sampled document two tasks are cut:

- a **line**: one line, the cursor inside it after its indentation and at most half-way
  through its code; the model must write the rest of that line (editor ``line`` mode);
- a **span**: 2 to :data:`MAX_SPAN_LINES` consecutive lines inside the file, the cursor after
  the first line's indentation; the model must write those lines (editor ``auto`` mode, the
  block the cursor is in, as multi-line infilling is asked). A span never runs past the
  file's last line and ends on a line with code, so its target really has several lines.

Each task is asked twice: **without suffix** (the prefix only: a cursor at the end of
a file) and **with suffix** (the rest of the file after the line, in the model's FIM format;
a model that never learned FIM gets the prefix only, as ``codemill serve`` gives it).

Sampling is deterministic: documents are ranked per language by a hash of ``(seed, doc_id)``
and the first ``per_language`` kept (streamed, a small heap per language, no table is
materialised); the line, span and cursor come from generators seeded the same way (the span's
with its own salt, so adding spans did not move the lines earlier runs stored). The same
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
SPAN_WITH_SUFFIX, SPAN_WITHOUT_SUFFIX = "span-with-suffix", "span"
LINE, SPAN = "line", "span"  # LineSpan.kind
# (kind, task type without suffix, task type with suffix, infilling task type → editor mode)
KINDS = ((LINE, WITHOUT_SUFFIX, WITH_SUFFIX, "single-line"), (SPAN, SPAN_WITHOUT_SUFFIX, SPAN_WITH_SUFFIX, "multi-line"))
MAX_SPAN_LINES = 4  # editors show a few lines; longer blocks are HumanEval multi-line's job
ALL_LANGUAGES = "all"
MIN_LINE_CHARS = 6  # shorter lines ("}", "else:") say little about a model


@dataclass(frozen=True)
class LineSpan:
    task_id: str  # <doc_id>:<line number>
    language: str
    prefix: str
    target: str  # the rest of the line after the cursor
    suffix: str  # the rest of the file after the line (starts with a newline)
    kind: str = LINE  # LINE or SPAN (several lines)

    def as_task(self, with_suffix: bool) -> Problem:
        """A task for :func:`training.evaluation.infill_generate.generate_infills`."""
        return Problem(
            self.task_id, self.prefix, "", "", self.target, self.suffix if with_suffix else "",
            source_task_id=self.task_id,
        )


def _rank(seed: int, doc_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\0{doc_id}".encode()).digest()


def choose_span(doc_id: str, language: str, text: str, seed: int, max_prefix: int, max_suffix: int) -> LineSpan | None:
    """One line of ``text`` with a cursor inside it.

    None when no line is long enough, or when the cursor fell at the very start of the file.
    """
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
    if not prefix:
        return None  # a cursor at the very start of the file: no prompt to complete from
    suffix = text[start + len(line) :][:max_suffix]
    return LineSpan(f"{doc_id}:{number}", language, prefix, line[cursor:].rstrip(), suffix)


def choose_block(doc_id: str, language: str, text: str, seed: int, max_prefix: int, max_suffix: int) -> LineSpan | None:
    """2..MAX_SPAN_LINES whole lines of ``text`` from the first one's indentation, or None.

    None also when the span starts at the very start of the file (an empty prompt).

    The span starts on a line with at least MIN_LINE_CHARS of code and ends on a non-blank
    line, inside the file (the empty piece after a final newline is not a line). The wanted
    length is drawn first; when no place fits it, shorter spans are tried down to 2 lines.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline ends the last line, it does not start another
    rng = random.Random(_rank(seed, f"{doc_id}\0span"))
    wanted = rng.randint(2, MAX_SPAN_LINES)
    for length in range(wanted, 1, -1):
        starts = [
            n for n in range(len(lines) - length + 1)
            if len(lines[n].strip()) >= MIN_LINE_CHARS and lines[n + length - 1].strip()
        ]
        if starts:
            break
    else:
        return None
    number = rng.choice(starts)
    last = number + length - 1
    first = lines[number]
    cursor = len(first) - len(first.lstrip())
    start = sum(len(earlier) + 1 for earlier in lines[:number])
    end = start + sum(len(line) + 1 for line in lines[number : last + 1]) - 1  # end of the last line
    prefix = text[: start + cursor][-max_prefix:]
    if not prefix:
        return None  # a cursor at the very start of the file: no prompt to complete from
    target = text[start + cursor : end].rstrip()
    suffix = text[end:][:max_suffix]
    return LineSpan(f"{doc_id}:{number}-{last}", language, prefix, target, suffix, SPAN)


def sample_spans(
    documents: Iterable[tuple[str, str, str]],
    per_language: int,
    seed: int = 0,
    max_prefix: int = 2000,
    max_suffix: int = 1000,
) -> list[LineSpan]:
    """A line and a span of each of the ``per_language`` lowest-ranked documents of each language.

    In rank order, lines before spans within a language.
    """
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
        chosen = sorted(heaps[language], reverse=True)
        for choose in (choose_span, choose_block):
            for _, doc_id, text in chosen:
                span = choose(doc_id, language, text, seed, max_prefix, max_suffix)
                if span is not None:
                    spans.append(span)
    return spans


def stream_test_documents(table_path: str, version: int, split: str = "test") -> Iterator[tuple[str, str, str]]:
    """(doc_id, language, text) of one split of a gold version, streamed by delta-rs."""
    import pyarrow.dataset as ds

    from data_platform.storage import delta_table

    dataset = delta_table(str(table_path), version=version).to_pyarrow_dataset()
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


def complete_lines(
    generator, spans: Sequence[LineSpan], sampling, seed: int = 0, span_max_new_tokens: int | None = None
) -> tuple[list[dict], dict]:
    """Greedy line and span completions with and without suffix → (metric rows, report summary).

    ``generator`` is a :mod:`training.evaluation.generators` object (a model or an endpoint).
    Spans are generated with ``span_max_new_tokens`` (several lines need more than one line's
    budget); lines with ``sampling.max_new_tokens``.
    """
    from dataclasses import replace

    greedy = replace(sampling, samples=1, temperature=0.0)
    budgets = {LINE: greedy, SPAN: replace(greedy, max_new_tokens=span_max_new_tokens or greedy.max_new_tokens)}
    rows, summary = [], {"spans": len(spans), "fim": generator.fim_label, "examples": []}
    for kind, without, with_, infill_type in KINDS:
        members = [span for span in spans if span.kind == kind]
        summary[f"{kind}_tasks"] = len(members)
        if not members:
            continue
        # A model without FIM gets the same prompt both ways: one generation serves both.
        shared = generator.infills_without_and_with_suffix(
            [span.as_task(True) for span in members], budgets[kind], infill_type
        )
        for task_type, with_suffix in ((without, False), (with_, True)):
            if shared is not None:
                middles = shared[with_suffix]
            else:
                middles = generator.infills([span.as_task(with_suffix) for span in members], budgets[kind], infill_type)
            predictions = {task_id: batch[0] for task_id, batch in middles.items()}
            rows += score_rows(members, predictions, task_type, seed)
            summary["examples"] += [
                {"task_id": s.task_id, "task_type": task_type, "target": s.target, "prediction": predictions[s.task_id]}
                for s in members[:3]
            ]
    summary["metrics"] = {
        f"{row['task_type']}/{row['language']}/{row['metric']}": row["value"] for row in rows
    }
    return rows, summary
