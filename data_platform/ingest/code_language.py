"""The language of a code block whose markup names none, by which grammar parses it best.

Documentation and answers often leave a block unlabelled (a bare ``<pre>``, a fence without an
info string, a reST ``::`` literal block). Each tree-sitter grammar the platform already ships
parses the block and the one with the fewest error nodes wins; ties go to the ``hint`` (the
language the source is mostly about: the thread's first tag language), then to the order of
:data:`PARSED_LANGUAGES`. Measured against Pygments' ``guess_lexer`` on the labelled blocks of
the Python documentation (benchmarks/code_language_detection.py, decision 0192), this is right
about twice as often; Pygments' guess names an exotic lexer for most short snippets.

Two prompts decide before any parse: ``>>>`` opens a Python interactive session, and ``$ `` a
shell session (their output lines are errors in every grammar). A block without a single
bracket, operator or quote, or that every grammar finds full of errors, is output or prose,
not code: it stays ``None``.
"""

from __future__ import annotations

from data_platform.languages import PARSED_LANGUAGES

# PHP's grammar reads everything outside <?php ... ?> as inline HTML without an error: it would
# win every block. It competes only when the block opens a PHP tag.
_CANDIDATES = tuple(language for language in PARSED_LANGUAGES if language != "php")
_MAX_BYTES = 4096  # a block's start says its language; long blocks would cost 11 full parses
# More error nodes than one per this many non-blank lines, in the best grammar: not code.
_LINES_PER_ERROR = 3
# Code has at least one of these; a sentence has none and still parses in Bash or Ruby (words
# as commands or method calls), so a block without any is prose, not code.
_CODE_MARKS = frozenset("()[]{}=;:<>$#\"'/\\|&*+%@")


def error_nodes(language: str, code: bytes) -> int:
    """ERROR and MISSING nodes in the tree of ``code`` under ``language``'s grammar."""
    from data_platform.ingest.treesitter import parser_for

    root = parser_for(language).parse(code).root_node
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        elif node.has_error:  # only subtrees holding an error are walked
            stack.extend(node.children)
    return count


def _prompt_language(lines: list[str]) -> str | None:
    first = lines[0].lstrip()
    if any(line.startswith(">>> ") or line == ">>>" for line in lines):
        return "python"
    if first.startswith("$ ") or first.startswith("% "):
        return "bash"
    return "php" if first.startswith("<?php") else None


def detect_code_language(code: str, hint: str | None = None) -> str | None:
    """Language id of an unlabelled code block, or None when it does not parse as code."""
    lines = [line for line in code.splitlines() if line.strip()]
    if not lines:
        return None
    prompted = _prompt_language(lines)
    if prompted:
        return prompted
    if not _CODE_MARKS.intersection(code):
        return None
    data = code.encode("utf-8", errors="replace")
    if len(data) > _MAX_BYTES:
        data = data[: data.rfind(b"\n", 0, _MAX_BYTES) + 1 or _MAX_BYTES]
    order = ([hint] if hint in _CANDIDATES else []) + [name for name in _CANDIDATES if name != hint]
    best = min(order, key=lambda name: (error_nodes(name, data), order.index(name)))
    allowed = max(1, data.count(b"\n") // _LINES_PER_ERROR)
    return best if error_nodes(best, data) <= allowed else None
