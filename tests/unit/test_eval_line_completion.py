"""Line completion: span sampling (deterministic, order-free), exact match and edit similarity."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from training.evaluation.line_completion import (
    WITHOUT_SUFFIX,
    choose_span,
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
    assert sorted(s.language for s in spans) == ["javascript", "python"]
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
