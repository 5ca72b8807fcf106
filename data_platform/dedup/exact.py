"""Exact-duplicate key: a hash of the text after normalising what editors and VCSs change."""

from __future__ import annotations

import hashlib
import re

_TRAILING_SPACE_RE = re.compile(r"[ \t\f\v]+$", re.MULTILINE)


def normalise_for_exact(text: str) -> str:
    """Unify line endings, drop trailing whitespace on each line and blank lines at the end."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_SPACE_RE.sub("", text)
    return text.rstrip("\n")


def exact_dup_key(text: str | None) -> str | None:
    """sha256 (hex) of the normalised text; None for files without text."""
    if text is None:
        return None
    return hashlib.sha256(normalise_for_exact(text).encode("utf-8", "surrogatepass")).hexdigest()


def exact_dup_key_column(text_column: str = "text"):
    """The same key as :func:`exact_dup_key`, as a Spark column (no Python worker round trip)."""
    from pyspark.sql import functions as F

    text = F.regexp_replace(F.col(text_column), "\r\n?", "\n")
    # Python's MULTILINE "$" is "before a newline or at the very end": the same lookahead in Java.
    text = F.regexp_replace(text, "[ \t\f\u000b]+(?=\n|\\z)", "")
    text = F.regexp_replace(text, "\n+\\z", "")
    return F.sha2(text, 256)
