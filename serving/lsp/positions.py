"""LSP positions ↔ offsets into a document's text, and the text window around a cursor.

LSP counts lines split by ``\\n``, ``\\r\\n`` or ``\\r`` only, and characters in the position
encoding agreed at initialisation (UTF-16 code units unless the client offers another).
``str.splitlines`` (which pygls' own document helpers use) also breaks at form feeds,
``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028``/``\\u2029``: text that editors show on one line, so a
file with a form feed (old Python and Emacs sources have them) would shift every position
after it. Hence these small functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENCODINGS = ("utf-16", "utf-8", "utf-32")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """Offset of the first character of each line (LSP line breaks only)."""
    return [0, *(match.end() for match in _LINE_BREAK.finditer(text))]


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-16":
        return 2 if ord(char) > 0xFFFF else 1
    return len(char.encode("utf-8", "surrogatepass"))


def offset_at(text: str, line: int, character: int, encoding: str = "utf-16") -> int:
    """The string index of an LSP position; past-the-end lines and columns clamp to the end.

    A column inside a character (half a surrogate pair, a byte inside a UTF-8 sequence) rounds
    down to that character's start, as the LSP spec asks of servers.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown position encoding {encoding!r} (expected one of {', '.join(ENCODINGS)})")
    starts = line_starts(text)
    if line < 0 or character < 0:
        raise ValueError(f"negative position ({line}, {character})")
    if line >= len(starts):
        return len(text)
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    content_end = start + len(text[start:end].rstrip("\r\n"))
    offset, units = start, 0
    while offset < content_end:
        width = _units(text[offset], encoding)
        if units + width > character:
            break
        units += width
        offset += 1
    return offset


def position_at(text: str, offset: int, encoding: str = "utf-16") -> tuple[int, int]:
    """The LSP ``(line, character)`` of a string index (clamped to the text)."""
    offset = max(0, min(offset, len(text)))
    starts = line_starts(text)
    line = max(index for index, start in enumerate(starts) if start <= offset)
    return line, sum(_units(char, encoding) for char in text[starts[line]:offset])


@dataclass(frozen=True)
class CursorWindow:
    """The text sent for one completion: the end of the prefix and the start of the suffix."""

    prefix: str
    suffix: str


def cursor_window(text: str, offset: int, max_prefix_chars: int, max_suffix_chars: int) -> CursorWindow:
    """At most ``max_prefix_chars`` before and ``max_suffix_chars`` after the cursor.

    A cut inside a line drops that partial line (half a line is noise to the model), unless the
    cut line is all there is: then the window keeps the partial text rather than nothing.
    """
    prefix, suffix = text[:offset], text[offset:]
    if len(prefix) > max_prefix_chars:
        cut = prefix[len(prefix) - max_prefix_chars:]
        newline = cut.find("\n")
        prefix = cut[newline + 1:] if 0 <= newline < len(cut) - 1 else cut
    if len(suffix) > max_suffix_chars:
        cut = suffix[:max_suffix_chars]
        newline = cut.rfind("\n")
        suffix = cut[: newline + 1] if newline > 0 else cut
    return CursorWindow(prefix, suffix)


_WORD_CHAR = re.compile(r"[\w$]")


def word_start(text: str, offset: int) -> int:
    """Start of the identifier that ends at ``offset`` (``offset`` itself when there is none).

    Completion-item clients filter items by this word, so an item must replace it, not only
    insert after it, or a completion for ``self.na|`` is filtered out by ``na``.
    """
    start = offset
    while start > 0 and _WORD_CHAR.match(text[start - 1]):
        start -= 1
    return start
