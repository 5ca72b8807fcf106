"""Which other open documents go with a request as ``extra_context``, nearest first.

Nearest = fewest directory steps between the two files (siblings first), then the most
recently edited; each document is cut at a line boundary to what is left of a character
budget (its head: imports and signatures come first). The VS Code extension does the same
with the visible editors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

MIN_EXCERPT_CHARS = 64


def uri_path(uri: str, roots: Sequence[str] = ()) -> str:
    """A document's path as the model should see it: relative to a workspace root when inside one."""
    parsed = urlparse(uri)
    path = unquote(parsed.path) if parsed.scheme == "file" else uri
    for root in roots:
        root_path = unquote(urlparse(root).path).rstrip("/")
        if root_path and path.startswith(root_path + "/"):
            return path[len(root_path) + 1:]
    return path


def directory_distance(a: str, b: str) -> int:
    left, right = PurePosixPath(a).parent.parts, PurePosixPath(b).parent.parts
    common = 0
    while common < min(len(left), len(right)) and left[common] == right[common]:
        common += 1
    return len(left) - common + len(right) - common


def head_excerpt(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    newline = cut.rfind("\n")
    return cut[: newline + 1] if newline > 0 else cut


def select_extra_context(current: str, documents: Sequence[tuple[str, str]], budget_chars: int) -> list[tuple[str, str]]:
    """``(path, text)`` of other documents, given most recently edited first, within the budget."""
    candidates = sorted(
        ((directory_distance(current, path), order, path, text) for order, (path, text) in enumerate(documents)
         if path != current and text.strip()),
    )
    chosen, remaining = [], budget_chars
    for _, _, path, text in candidates:
        if remaining < MIN_EXCERPT_CHARS:
            break
        excerpt = head_excerpt(text, remaining)
        if excerpt.strip():
            chosen.append((path, excerpt))
            remaining -= len(excerpt)
    return chosen
