"""tree-sitter extraction, tested against the grammar wheels pinned in pyproject.toml."""

from __future__ import annotations

import pytest

from data_platform.ingest.treesitter import SPECS, parse_source, query_cursor
from data_platform.languages import PARSED_LANGUAGES
from tests.fixtures.ingest import (
    C_SOURCE,
    GO_MAIN,
    JAVA_MAIN,
    JAVASCRIPT_APP,
    PYTHON_CORE,
    RUST_LIB,
    SHELL_SCRIPT,
    TYPESCRIPT_UTIL,
)


def test_every_parsed_language_has_a_spec_whose_query_compiles():
    assert set(PARSED_LANGUAGES) == set(SPECS)
    for language in SPECS:
        query_cursor(language)  # raises QueryError if a node type is not in the pinned grammar


def _symbols(language: str, text: str) -> set[tuple[str, str, str | None]]:
    result = parse_source(language, text)
    assert result.parse_ok and not result.has_syntax_error, language
    return {(s.name, s.kind, s.docstring) for s in result.symbols}


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("python", PYTHON_CORE, {("add", "function", "Return the sum of a and b."),
                                 ("Greeter", "class", "Greets people by name."),
                                 ("greet", "method", "Say hello to name.")}),
        ("javascript", JAVASCRIPT_APP, {("formatPrice", "function", "Formats a price with two decimals."),
                                        ("double", "function", None)}),
        ("typescript", TYPESCRIPT_UTIL, {("clamp", "function", "Clamp a number into a range.")}),
        ("java", JAVA_MAIN, {("Main", "class", "Entry point."), ("main", "method", "Prints a greeting.")}),
        ("go", GO_MAIN, {("Sum", "function", "Sum adds the numbers.")}),
        ("rust", RUST_LIB, {("mul", "function", "Multiplies two numbers.")}),
        ("c", C_SOURCE, {("say", "function", "Print a line.")}),
        ("bash", SHELL_SCRIPT, {("build", "function", "Build everything.")}),
        ("cpp", "// Box.\nclass Box {\n public:\n  int area() { return 1; }\n};\nint Box::volume() { return 2; }\n",
         {("Box", "class", "Box."), ("area", "method", None), ("Box::volume", "function", None)}),
        ("csharp", "/// Shape.\nclass Shape {\n  /// Area.\n  double Area() { return 0; }\n}\n",
         {("Shape", "class", "Shape."), ("Area", "method", "Area.")}),
        ("ruby", "# Greeter.\nclass Greeter\n  # Say hi.\n  def hi\n  end\nend\n",
         {("Greeter", "class", "Greeter."), ("hi", "method", "Say hi.")}),
        ("php", "<?php\n// Adds.\nfunction add($a) { return $a; }\nclass A { public function m() {} }\n",
         {("add", "function", "Adds."), ("A", "class", None), ("m", "method", None)}),
    ],
)
def test_definitions_names_kinds_and_docstrings(language, text, expected):
    assert _symbols(language, text) == expected


def test_signature_body_and_lines():
    result = parse_source("python", PYTHON_CORE)
    add = next(s for s in result.symbols if s.name == "add")
    assert add.signature == "def add(a, b):"
    assert add.body.startswith("def add(a, b):") and add.body.rstrip().endswith("return a + b")
    assert (add.start_line, add.end_line) == (4, 6)
    assert result.comment_fraction == 0.0
    commented = parse_source("python", "# one\n# two\nx = 1\n")
    assert commented.comment_fraction == pytest.approx(10 / 18)


def test_syntax_errors_are_flagged_not_raised():
    result = parse_source("python", "def broken(:\n    pass\n")
    assert result.parse_ok and result.has_syntax_error


def test_slow_parse_is_abandoned_with_parse_timeout():
    text = "x = [" + "1, " * 400_000 + "]\n"
    result = parse_source("python", text, max_bytes=10_000_000, timeout_s=0.001)
    assert (result.parse_ok, result.error_kind) == (False, "parse_timeout")


def test_the_file_after_a_timeout_parses_cleanly():
    """The per-process parser is reused: an abandoned parse must not leak into the next file.

    Without ``parser.reset()`` the next parse resumes the cancelled one (on the previous
    file's bytes) and a good file comes out as a syntax error with no functions.
    """
    import sysconfig
    from pathlib import Path

    text = (Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text(encoding="utf-8")  # ~100 KB: watched
    fresh = parse_source("python", text, max_bytes=10_000_000, timeout_s=60)
    parse_source("python", "x = [" + "1, " * 400_000 + "]\n", max_bytes=10_000_000, timeout_s=0.001)
    after = parse_source("python", text, max_bytes=10_000_000, timeout_s=60)
    assert fresh.parse_ok and not fresh.has_syntax_error and fresh.function_count > 100
    assert (after.parse_ok, after.has_syntax_error, after.function_count, after.class_count) == (
        True, False, fresh.function_count, fresh.class_count)
