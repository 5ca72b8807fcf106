"""Small text helpers the detectors share."""

from __future__ import annotations


def line_bounds(text: str, position: int) -> tuple[int, int]:
    """(start, end) of the line holding ``position``; end excludes the newline."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return start, len(text) if end < 0 else end
