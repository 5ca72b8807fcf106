"""LSP positions ↔ string offsets, checked against a brute-force decoding of real sources."""

from __future__ import annotations

import re
import sysconfig
from pathlib import Path

import pytest

from serving.lsp.positions import cursor_window, line_starts, offset_at, position_at, word_start

STDLIB = Path(sysconfig.get_paths()["stdlib"])
CODECS = {"utf-16": "utf-16-le", "utf-8": "utf-8", "utf-32": "utf-32-le"}
WIDTH = {"utf-16": 2, "utf-8": 1, "utf-32": 4}


def brute_offset(text: str, line: int, character: int, encoding: str) -> int:
    """Cut the line's bytes at ``character`` units; a cut inside a character drops it (rounds down)."""
    lines = re.split(r"\r\n|\r|\n", text)
    if line >= len(lines):
        return len(text)
    start = sum(len(part) for part in re.split(r"(\r\n|\r|\n)", text)[: 2 * line])
    raw = lines[line].encode(CODECS[encoding], "surrogatepass")
    return start + len(raw[: character * WIDTH[encoding]].decode(CODECS[encoding], errors="ignore"))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
@pytest.mark.parametrize("name", ["statistics.py", "functools.py", "heapq.py"])
def test_every_position_of_real_non_ascii_sources_matches_brute_force(name, encoding):
    text = (STDLIB / name).read_text(encoding="utf-8")
    lines = re.split(r"\r\n|\r|\n", text)
    non_ascii = [n for n, line in enumerate(lines) if re.search(r"[^\x00-\x7f]", line)]
    assert non_ascii, f"{name} no longer has non-ASCII lines: pick another file"
    for number in [*non_ascii, 0, len(lines) - 1]:
        units = len(lines[number].encode(CODECS[encoding], "surrogatepass")) // WIDTH[encoding]
        for character in range(units + 2):  # and one past the end (clamps)
            assert offset_at(text, number, character, encoding) == brute_offset(text, number, character, encoding)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
def test_position_at_inverts_offset_at(encoding):
    text = 'a = "😀é"\r\nb\rc\n\x0cd = 1\u2028e\n'
    for offset in range(len(text) + 1):
        line, character = position_at(text, offset, encoding)
        if text[offset - 1: offset + 1] == "\r\n" and offset > 0:
            continue  # between \r and \n: not a position an editor can hold
        assert offset_at(text, line, character, encoding) == offset, (offset, line, character)


def test_only_lsp_line_breaks_count():
    # Form feed, \x1c-\x1e, \x85 and \u2028 are line breaks to str.splitlines, not to LSP.
    text = "x = 1\x0cy = 2\u2028z\x85w\nnext"
    assert line_starts(text) == [0, text.index("next")]
    assert offset_at(text, 1, 2) == text.index("next") + 2
    assert offset_at(text, 0, 6) == text.index("y")
    assert line_starts("a\r\nb\rc\nd") == [0, 3, 5, 7]


def test_surrogate_pairs_and_clamping():
    text = "😀x\nlast"
    assert offset_at(text, 0, 1, "utf-16") == 0  # inside the pair: rounds down
    assert offset_at(text, 0, 2, "utf-16") == 1
    assert offset_at(text, 0, 5, "utf-8") == 2  # 4 bytes + "x"
    assert offset_at(text, 0, 99) == 2  # past the line's end: its end, not the next line
    assert offset_at(text, 7, 0) == len(text)  # past the last line: the end of the text
    assert position_at(text, 2, "utf-16") == (0, 3)
    with pytest.raises(ValueError, match="encoding"):
        offset_at(text, 0, 0, "latin-1")


def test_cursor_window_cuts_at_line_boundaries():
    text = "line one\nline two\nline three\n" + "tail one\ntail two\n"
    offset = text.index("tail")
    window = cursor_window(text, offset, max_prefix_chars=15, max_suffix_chars=12)
    assert window.prefix == "line three\n"  # "two\n" was a partial line
    assert window.suffix == "tail one\n"
    whole = cursor_window(text, offset, 10_000, 10_000)
    assert whole.prefix + whole.suffix == text
    # A single long line cut: keep the partial text rather than nothing.
    long_line = "x" * 50
    assert cursor_window(long_line, 50, 10, 0).prefix == "x" * 10


def test_word_start_is_the_identifier_before_the_cursor():
    text = "self.na"
    assert word_start(text, len(text)) == 5
    assert word_start("foo(", 4) == 4
    assert word_start("$scope_1", 8) == 0
    assert word_start("naïve", 5) == 0
