"""Kinds of bad input, and the record each becomes in ``ops.ingest_errors``.

A problem with one file or one source never stops a run: readers and row functions return
an :class:`IngestError` instead of raising, and the run writes them all at the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Source-level kinds (path is "").
MISSING_PATH = "missing_path"
CORRUPT_GIT = "corrupt_git"
UNREACHABLE = "unreachable"
UNKNOWN_SOURCE = "unknown_source"
ARCHIVE_BOMB = "archive_bomb"
CORRUPT_ARCHIVE = "corrupt_archive"
BAD_DATASET = "bad_dataset"
# File-level kinds.
BINARY = "binary"
UNDECODABLE = "undecodable"
TOO_LARGE = "too_large"
SYMLINK = "symlink"
SUBMODULE = "submodule"
PATH_ESCAPE = "path_escape"
UNREADABLE = "unreadable"
MISSING_OBJECT = "missing_object"  # git: a listed blob or tree absent from (or unreadable in) the object store
CORRUPT_MEMBER = "corrupt_member"  # archive: a member whose bytes cannot be decompressed or checked
PARSE_TIMEOUT = "parse_timeout"
PARSE_FAILED = "parse_failed"
BAD_ROW = "bad_row"
CURATE_FAILED = "curate_failed"
# Run-level kinds.
PRUNE_REFUSED = "prune_refused"  # --prune-missing not applied because a source could not be read
PURGED = "purged"  # a source whose repository was purged (ops.purge_requests): skipped until lifted

ERROR_FIELDS = ("source", "path", "stage", "kind", "message")


@dataclass(frozen=True)
class IngestError:
    source: str
    path: str
    stage: str
    kind: str
    message: str

    def as_row(self) -> dict[str, str]:
        return asdict(self)


class SourceError(Exception):
    """A whole source cannot be read; ``kind`` is one of the source-level kinds above."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message
