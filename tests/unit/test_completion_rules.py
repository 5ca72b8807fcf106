"""Editor completion rules (training.completion): modes, stops, suffix trimming, streaming."""

import random

import pytest

from training.completion import (
    CompletionContext,
    CompletionTracker,
    bracket_delta,
    finish_completion,
    resolve_mode,
    truncate_at_stop,
)


def ctx(prefix="", suffix="", mode="none", stop=()):
    return CompletionContext(prefix=prefix, suffix=suffix, mode=mode, stop=tuple(stop))


def test_truncate_at_stop_takes_the_earliest_stop():
    assert truncate_at_stop("a\nb\ndef c", ["\ndef ", "\nb"]) == "a"
    assert truncate_at_stop("abc", []) == "abc"
    assert truncate_at_stop("abc", [""]) == "abc"


@pytest.mark.parametrize(
    "prefix, suffix, expected",
    [
        ("x = foo(", ")\nprint(x)", "line"),  # code after the cursor
        ("def f(x):", "", "block"),  # header
        ("if (a) {", "\n}", "block"),  # closing bracket after the cursor is not code to finish
        ("def f(x):\n    ", "", "block"),  # blank line
        ("x = 5", "\ny = 2", "line"),
        ("    return x +", "", "line"),
    ],
)
def test_auto_mode_follows_the_cursor(prefix, suffix, expected):
    assert resolve_mode(ctx(prefix, suffix, "auto")) == expected


def test_line_mode_ends_at_the_first_newline_after_content():
    assert finish_completion("a, b)\nprint(x)\n", ctx("foo(", "", "line")) == "a, b)"
    # the cursor ends a line: the next line is the completion
    assert finish_completion("\n    return 1\n    x", ctx("def f():", "", "line")) == "\n    return 1"
    assert finish_completion("\n\n", ctx("x = 1", "", "line")) == ""


def test_block_mode_after_a_python_header_takes_the_body():
    text = "\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint(fib(10))\n"
    assert finish_completion(text, ctx("def fib(n):", "", "block")) == (
        "\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)"
    )


def test_block_mode_keeps_continuations_and_stops_at_the_next_statement():
    text = "\n    a()\nelse:\n    b()\nc()\n"
    assert finish_completion(text, ctx("if x:", "", "block")) == "\n    a()\nelse:\n    b()"


def test_block_mode_includes_the_brace_that_closes_the_header():
    text = "\n  return 1;\n}\n\nfunction g() {\n"
    assert finish_completion(text, ctx("function f() {", "", "block")) == "\n  return 1;\n}"
    text = "\n  a();\n} else {\n  b();\n}\nnext();"
    assert finish_completion(text, ctx("if (x) {", "", "block")) == "\n  a();\n} else {\n  b();\n}"


def test_block_mode_on_a_blank_line_writes_the_rest_of_the_body():
    prefix = "def f(x):\n    "
    text = "y = x + 1\n    z = y * 2\n    return z\n\ndef g():\n    pass\n"
    assert finish_completion(text, ctx(prefix, "", "block")) == "y = x + 1\n    z = y * 2\n    return z"


def test_block_mode_on_a_blank_line_stops_before_a_bracket_opened_earlier():
    prefix = "function f() {\n  "
    text = "const a = 1;\n  return a;\n}\n"
    assert finish_completion(text, ctx(prefix, "", "block")) == "const a = 1;\n  return a;"


def test_a_line_repeating_the_suffix_ends_the_completion():
    # the editor already has the closing brace after the cursor
    prefix = "function f() {\n"
    suffix = "\n}\n"
    text = "  return 1;\n}\n"
    assert finish_completion(text, ctx(prefix, suffix, "block")) == "  return 1;"
    # an inner closer at deeper indentation is not the suffix's line
    text = "  if (a) {\n    b();\n  }\n}\n"
    assert finish_completion(text, ctx(prefix, suffix, "none")) == "  if (a) {\n    b();\n  }"


def test_suffix_overlap_is_trimmed_only_when_it_balances_the_line():
    assert finish_completion('"hello")', ctx("print(", ")", "line")) == '"hello"'
    assert finish_completion("foo(a))", ctx("print(", ")", "line")) == "foo(a)"
    assert finish_completion("foo(a)", ctx("print(", ")", "line")) == "foo(a)"
    assert finish_completion("barbar", ctx("foo(", "bar)", "line")) == "bar"


def test_stop_strings_are_honoured_in_every_mode():
    assert finish_completion("a = 1\nb = 2 # END more", ctx("", "", "none", ["# END"])) == "a = 1\nb = 2 "
    assert finish_completion("\n    x()\n    STOP\n    y()", ctx("if a:", "", "block", ["STOP"])) == "\n    x()"


def test_bracket_delta_skips_strings_and_comments():
    assert bracket_delta('foo("(", x) # )')[0] == 0
    assert bracket_delta("a = [1, (2, 3)")[0] == 1
    assert bracket_delta("})")[1] == -2


STREAM_CASES = [
    ("def fib(n):", "", "block", (), "\n    if n < 2:\n        return n\n    return fib(n - 1)\n\nprint(1)\n"),
    ("function f() {\n", "\n}\n", "block", (), "  const a = [1, 2];\n  return a;\n}\n\n"),
    ("print(", ")\n", "line", (), '"hello, world")\nx = 1\n'),
    ("if (x) {", "", "block", (), "\n  a();\n} else {\n  b();\n}\nnext();"),
    ("x = ", "", "none", ("\n\n",), "compute(1,\n  2)\n\nmore"),
    ("def f(x):\n    ", "", "auto", (), "y = x\n    return y   \n\n\ndef g(): pass"),
    ("foo(", "bar)\n", "auto", (), "barbar)\nzzz"),
]


@pytest.mark.parametrize("prefix, suffix, mode, stop, text", STREAM_CASES)
def test_streamed_pieces_add_up_to_the_final_completion(prefix, suffix, mode, stop, text):
    context = ctx(prefix, suffix, mode, stop)
    expected = finish_completion(text, context)
    rng = random.Random(7)
    for _ in range(40):  # random token boundaries
        cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(1, 12))))
        tracker = CompletionTracker(context)
        pieces = []
        for end in [*cuts, len(text)]:
            pieces.append(tracker.update(text[:end]))
            if tracker.done:
                break
        if not tracker.done:
            pieces.append(tracker.update(text, final=True))
        assert "".join(pieces) == expected == tracker.completion


def test_tracker_ends_generation_as_soon_as_the_block_is_over():
    tracker = CompletionTracker(ctx("def f():", "", "block"))
    assert tracker.update("\n    return 1\n") == "\n    return 1"[: len("\n    return 1")]
    assert not tracker.done
    tracker.update("\n    return 1\nprint")
    assert tracker.done and tracker.completion == "\n    return 1"


def test_tracker_releases_text_before_generation_ends():
    tracker = CompletionTracker(ctx("x = ", "", "none"))
    assert tracker.update("compute(") == "compute("
    assert not tracker.done


FRAGMENTS = ["\n", "    ", "  ", "x", " = ", "foo(", ")", "{", "}", "[", "]", ":", "else:", "} else {", "return",
             '"', "'", "# c", "//", ";", "\t", "bar", "\n\n", "if a:", "END", "\ufffd"]
CONTEXTS = [
    ("def f(x):", ""), ("def f(x):\n    ", "\n    return y\n"), ("foo(", ")\nnext"), ("if (a) {\n", "\n}\n"),
    ("x = ", "bar)\n"), ("", ""), ("  if a:", "\n  }"),
]


@pytest.mark.parametrize("mode", ["none", "line", "block", "auto"])
def test_streaming_never_takes_back_text_on_random_generations(mode):
    rng = random.Random(mode)
    for trial in range(300):
        prefix, suffix = CONTEXTS[trial % len(CONTEXTS)]
        stop = ("END",) if trial % 3 == 0 else ()
        context = ctx(prefix, suffix, mode, stop)
        tokens = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 25))]
        tracker = CompletionTracker(context)
        pieces, text = [], ""
        for token in tokens:
            text += token
            pieces.append(tracker.update(text))
            if tracker.done:
                break
        if not tracker.done:
            pieces.append(tracker.update(text, final=True))
        assert "".join(pieces) == tracker.completion == finish_completion(text, context), (context, text)
