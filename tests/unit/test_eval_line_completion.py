"""Line completion: span sampling (deterministic, order-free), exact match and edit similarity."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from training.evaluation.line_completion import (
    MAX_SPAN_LINES,
    SPAN,
    SPAN_WITH_SUFFIX,
    WITHOUT_SUFFIX,
    choose_block,
    choose_span,
    complete_lines,
    edit_similarity,
    exact_match,
    levenshtein,
    sample_spans,
    score_rows,
)

# Real code nobody here wrote: modules of installed packages.
SOURCES = [Path(random.__file__), Path(pytest.__file__).parent / "__main__.py", Path(__file__).parent.parent.parent / "Makefile"]


def documents():
    docs = [(f"py-{p.name}", "python", p.read_text()) for p in SOURCES[:2]]
    import json

    docs.append(("js-json", "javascript", Path(json.__file__).read_text()))  # language is only a label here
    return docs


@pytest.mark.parametrize(
    ("a", "b", "distance"), [("kitten", "sitting", 3), ("", "abc", 3), ("flaw", "lawn", 2), ("same", "same", 0)]
)
def test_levenshtein_on_known_pairs(a, b, distance):
    assert levenshtein(a, b) == levenshtein(b, a) == distance


def test_exact_match_and_edit_similarity():
    assert exact_match("return a + b  ", "return a + b") == 1.0
    assert exact_match("return a+b", "return a + b") == 0.0
    assert edit_similarity("return a+b", "return a + b") == pytest.approx(1 - 2 / 12)
    assert edit_similarity("", "x = 1") == 0.0 and edit_similarity("", "") == 1.0


def test_spans_are_deterministic_capped_and_independent_of_read_order():
    docs = documents()
    spans = sample_spans(docs, per_language=1, seed=3)
    shuffled = list(reversed(docs))
    assert sample_spans(shuffled, per_language=1, seed=3) == spans
    assert sorted((s.language, s.kind) for s in spans) == [
        ("javascript", "line"), ("javascript", "span"), ("python", "line"), ("python", "span")
    ]
    assert sample_spans(docs, per_language=2, seed=3) != spans
    assert sample_spans(docs, per_language=1, seed=4) != spans


def test_a_span_is_the_rest_of_a_real_line_after_a_cursor_in_its_code():
    text = SOURCES[0].read_text()
    for seed in range(20):
        span = choose_span("random.py", "python", text, seed, max_prefix=10**7, max_suffix=10**7)
        line_start = span.prefix.rfind("\n") + 1
        line = span.prefix[line_start:] + span.target
        assert text.startswith(span.prefix) and len(line.strip()) >= 6
        assert text[len(span.prefix):].startswith(span.target) and span.suffix.startswith("\n")
        indent = len(line) - len(line.lstrip())
        assert len(span.prefix) - line_start >= indent  # cursor after the indentation
    assert choose_span("d", "python", "x\n}\n", 0, 100, 100) is None


def test_perfect_predictions_score_one_and_empty_ones_zero():
    spans = sample_spans(documents(), per_language=2, seed=0)
    perfect = score_rows(spans, {s.task_id: s.target for s in spans}, WITHOUT_SUFFIX)
    empty = score_rows(spans, {}, WITHOUT_SUFFIX)
    assert {(r["language"], r["metric"]) for r in perfect} == {
        (language, metric) for language in ("python", "javascript", "all") for metric in ("exact_match", "edit_similarity")
    }
    assert all(r["value"] == 1.0 for r in perfect) and all(r["value"] == 0.0 for r in empty)
    assert [r["num_samples"] for r in perfect if r["language"] == "all"] == [len(spans)] * 2


def test_a_multi_line_span_is_whole_lines_inside_the_file_from_the_first_indentation():
    text = SOURCES[0].read_text()
    lengths = set()
    for seed in range(40):
        span = choose_block("random.py", "python", text, seed, max_prefix=10**7, max_suffix=10**7)
        assert span.kind == SPAN and text.startswith(span.prefix)
        assert text[len(span.prefix):].startswith(span.target)
        first, last = (int(n) for n in span.task_id.rsplit(":", 1)[1].split("-"))
        lines = text.split("\n")
        assert 2 <= last - first + 1 <= MAX_SPAN_LINES and span.target.count("\n") == last - first
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        assert span.prefix.endswith("\n" + indent) and lines[last].strip()  # cursor after the indentation
        through_last = "\n".join(lines[: last + 1])
        assert span.prefix + span.target == through_last.rstrip() and span.suffix == text[len(through_last) :]
        lengths.add(last - first + 1)
    assert lengths == set(range(2, MAX_SPAN_LINES + 1))  # the seed picks the length too


@pytest.mark.parametrize("seed", range(30))
def test_spans_never_cross_the_end_of_a_file(seed):
    # Short files with and without a final newline: the only room is at the very end (after a
    # first line too short to start a span: a span at the file's start has no prompt).
    for text in ("a\nx = compute()\nreturn value", "a\nx = compute()\nreturn value\n", "a\nvalue = 1\ny = 2\n\n"):
        span = choose_block("d", "python", text, seed, 100, 100)
        assert span is not None and span.prefix + span.target + span.suffix in (text, text.rstrip() + "\n", text)
        assert span.target.count("\n") == 1 and len(span.prefix) + len(span.target) <= len(text.rstrip())
    assert choose_block("d", "python", "only_one_line = 1\n", seed, 100, 100) is None
    assert choose_block("d", "python", "x = compute()\n\n", seed, 100, 100) is None  # would end on a blank line


def test_span_sampling_is_deterministic_by_seed_and_does_not_move_the_lines():
    text = SOURCES[0].read_text()
    same = {choose_block("doc", "python", text, 7, 500, 500) for _ in range(3)}
    assert len(same) == 1
    assert len({choose_block("doc", "python", text, seed, 500, 500).task_id for seed in range(10)}) > 5
    # Spans draw from their own generator: a document's line is what it was before spans existed.
    docs = documents()  # per_language=2 keeps every one of them
    lines = {s for s in sample_spans(docs, per_language=2, seed=5) if s.kind == "line"}
    assert lines == {choose_span(doc_id, language, t, 5, 2000, 1000) for doc_id, language, t in docs}


class EchoGenerator:
    """A "model" that answers each task with its own target (perfect) and records what it was asked."""

    fim_label = "test"

    def __init__(self, spans):
        self.targets = {s.task_id: s.target for s in spans}
        self.asked: list[tuple[str, int, bool]] = []

    def infills(self, tasks, sampling, task_type):
        self.asked += [(task_type, sampling.max_new_tokens, bool(t.suffix)) for t in tasks]
        return {t.task_id: [self.targets[t.task_id]] for t in tasks}

    def infills_without_and_with_suffix(self, tasks, sampling, task_type):
        return None  # a FIM model (or a server): asked both ways


def test_line_and_span_tasks_are_scored_under_their_own_task_types():
    from training.evaluation.generate import SamplingSettings

    spans = sample_spans(documents(), per_language=2, seed=1)
    generator = EchoGenerator(spans)
    rows, summary = complete_lines(generator, spans, SamplingSettings(1, 0.0, 1.0, 16, 4, 1), 1, span_max_new_tokens=99)
    assert {r["task_type"] for r in rows} == {"line", "line-with-suffix", "span", SPAN_WITH_SUFFIX}
    assert all(r["value"] == 1.0 for r in rows)
    assert summary["line_tasks"] == summary["span_tasks"] == 3  # 3 documents, a line and a span each
    assert {r["num_samples"] for r in rows if r["language"] == "all"} == {3}
    # Spans go in the editor's block mode with their own budget; each kind with and without suffix.
    assert sorted(set(generator.asked)) == [
        ("multi-line", 99, False), ("multi-line", 99, True), ("single-line", 16, False), ("single-line", 16, True)
    ]


def test_a_cursor_at_the_start_of_a_file_gives_no_task():
    # Nothing before the cursor is no prompt at all: a prefix-only model cannot be asked.
    only_first_block = "import os\nimport sys\n"
    assert all(choose_block("doc", "python", only_first_block, seed, 500, 500) is None for seed in range(20))
    one_line = "print('hello, world')\n"
    chosen = [choose_span("doc", "python", one_line, seed, 500, 500) for seed in range(40)]
    assert None in chosen  # some seeds put the cursor at offset 0
    assert all(span.prefix for span in chosen if span is not None)
