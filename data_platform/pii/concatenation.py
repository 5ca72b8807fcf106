"""Secrets split across string concatenation: ``"AKIA" + "QWERTYUIOPASDFGH"``, ``("ghp_…" "…")``.

Adjacent string literals joined by ``+``, by juxtaposition (Python, C) or across a line break
are reassembled into one literal, which the key detectors then see as if it were written in
one piece on the line of its first part. A finding in the reassembled literal is mapped back
to the characters of each part it covers, so redaction replaces the content of every part
(``"<KEY>" + "<KEY>"``) and the joined view of the result holds nothing to find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_platform.pii.keys import find_keys_in_literal
from data_platform.pii.match import PiiMatch
from data_platform.pii.text import line_bounds

_LITERAL = r"\"(?:[^\"\\\n]|\\.){0,400}\"|'(?:[^'\\\n]|\\.){0,400}'"
_JOIN = r"[ \t]*(?:\+[ \t]*)?(?:\\?\r?\n[ \t]*(?:\+[ \t]*)?)?"
_CHAIN_RE = re.compile(rf"(?:{_LITERAL}){_JOIN}(?:{_LITERAL})(?:{_JOIN}(?:{_LITERAL}))*")
_PART_RE = re.compile(_LITERAL)
# A quote, a join, a quote: the cheap test that a text has any chain at all.
_JUNCTION_RE = re.compile(r"[\"'][ \t]*\+?[ \t]*(?:\\?\r?\n[ \t]*\+?[ \t]*)?[\"']")
_MIN_JOINED = 16  # shorter joined literals hold no detector's token


@dataclass(frozen=True)
class _Part:
    start: int  # offset of the part's content (after its opening quote) in the text
    length: int


def _parts(text: str, chain: re.Match) -> list[_Part]:
    return [
        _Part(chain.start() + m.start() + 1, m.end() - m.start() - 2)
        for m in _PART_RE.finditer(chain.group())
    ]


def _map_back(finding: PiiMatch, parts: list[_Part]) -> list[PiiMatch]:
    """The pieces of a finding in the joined literal, as spans of the original text."""
    pieces, offset = [], 0
    for part in parts:
        low, high = max(finding.start, offset), min(finding.end, offset + part.length)
        if low < high:
            pieces.append(
                PiiMatch(finding.kind, part.start + low - offset, part.start + high - offset, f"{finding.detector}+concat")
            )
        offset += part.length
    return pieces


def find_split_keys(text: str, path: str | None = None) -> list[PiiMatch]:
    """Keys that only a detector seeing the concatenated literal would find."""
    if not _JUNCTION_RE.search(text):
        return []
    found = []
    for chain in _CHAIN_RE.finditer(text):
        parts = _parts(text, chain)
        if len(parts) < 2:
            continue
        joined = "".join(text[p.start : p.start + p.length] for p in parts)
        if len(joined) < _MIN_JOINED:
            continue
        line_start, _ = line_bounds(text, chain.start())
        for finding in find_keys_in_literal(text[line_start : chain.start()], joined, path):
            found += _map_back(finding, parts)
    return found
