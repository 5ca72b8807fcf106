"""Refs and dataset column names from users, checked before any tool sees them.

A ``PATH#REF`` source hands REF to git. A ref starting with ``-`` would be read as an
option (``--upload-pack=…`` runs a program), and a ``:`` turns a fetch into a refspec that
writes local refs. So a ref must look like a ref: branch and tag names, ``refs/…``, commit
ids and revision suffixes (``HEAD~2``, ``main^``, ``v1@{0}``), nothing else; git is also
called with ``--end-of-options`` before it wherever the command accepts one.
"""

from __future__ import annotations

import re

from data_platform.ingest import errors as E

MAX_REF_CHARS = 255
_REF_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/~^@{}+-]*")
_COLUMN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def check_ref(ref: str) -> str:
    """``ref`` if it is a plain ref or revision, else SourceError(unknown_source) saying why."""
    problem = None
    if not ref:
        problem = "is empty"
    elif len(ref) > MAX_REF_CHARS:
        problem = f"is longer than {MAX_REF_CHARS} characters"
    elif ref.startswith("-"):
        problem = "starts with '-' (git would read it as an option)"
    elif not _REF_RE.fullmatch(ref) or ".." in ref or "//" in ref or ref.endswith((".lock", "/", ".")):
        problem = "is not a branch, tag, commit id or revision (allowed: letters, digits and . _ / ~ ^ @ { } + -)"
    if problem:
        raise E.SourceError(E.UNKNOWN_SOURCE, f"ref {ref[:80]!r} {problem}")
    return ref


def check_column_name(name: str, what: str) -> str:
    """A dataset column name from the configuration: an identifier, nothing a query could misread."""
    if not isinstance(name, str) or not _COLUMN_RE.fullmatch(name):
        raise ValueError(f"{what} must be a column name (letters, digits, '_'; not starting with a digit), got {name!r}")
    return name
