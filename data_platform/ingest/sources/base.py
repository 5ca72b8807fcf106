"""What every source reader shares: the source's identity, its listing, the records it reads.

A reader is two plain functions. ``list_source`` runs on the driver and returns metadata
only (paths, sizes, blob ids, no file bytes). ``read_entries`` runs on executors and turns
listed entries into :class:`FileRecord`s, each holding bytes or the reason it has none.
Everything that crosses from driver to executors is JSON-serialisable.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import asdict, dataclass, field

from data_platform.ingest.errors import IngestError


def stable_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def git_blob_sha(content: bytes) -> str:
    """The id git gives these bytes, so files keep one id across crawls and source kinds."""
    digest = hashlib.sha1(b"blob %d\0" % len(content))
    digest.update(content)
    return digest.hexdigest()


def safe_relative_path(name: str) -> str | None:
    """Normalised '/'-separated relative path, or None if it is absolute or escapes the root."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../") or normal in (".", ""):
        return None
    return normal


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    archive_max_total_bytes: int
    archive_max_ratio: float


@dataclass
class SourceInfo:
    spec: str  # the source exactly as the user gave it
    kind: str  # git, remote_git, directory, archive, dataset, docs, stackexchange
    location: str  # local path readers open (a clone for remote_git)
    repo_id: str
    repo_url: str
    repo_name: str
    commit_sha: str
    ref: str | None = None
    commit_date: str | None = None  # ISO 8601

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SourceInfo:
        return cls(**json.loads(text))


@dataclass
class Entry:
    path: str  # relative path; "" for dataset chunks
    locator: str  # what the reader opens: blob id, absolute path, member name, dataset file/row group
    size: int | None = None
    blob_sha: str | None = None  # known before reading for git sources
    chunk: int | None = None  # entries sharing a chunk are read by one task (tar streams)


@dataclass
class Listing:
    info: SourceInfo
    entries: list[Entry] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    license_files: dict[str, str] = field(default_factory=dict)  # root candidates → text
    per_row_repos: bool = False  # datasets: each row names its own repository
    declared_license: str | None = None  # docs: the SPDX id given with the source, wins over detection


@dataclass
class FileRecord:
    path: str
    content: bytes | None = None
    error_kind: str | None = None
    error_message: str | None = None
    # Datasets carry the repository per row.
    repo_name: str | None = None
    stars: int | None = None
    license_spdx: str | None = None
