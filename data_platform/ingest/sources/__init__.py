"""Source readers, one module per kind, and :func:`list_source` which picks the kind.

A source is given as a path or URL, optionally prefixed with its kind (``git:``, ``dir:``,
``archive:``, ``dataset:``) and, for git kinds, suffixed with ``#REF``:

- ``/path/repo`` or ``/path/repo.git``: a local git repository (files of HEAD or REF);
- ``https://…``, ``ssh://…``, ``git@host:…``, ``file://…``: a remote git repository;
- ``/path/dir``: a plain directory (when it is not a git repository);
- ``/path/x.zip``, ``x.tar``, ``x.tar.gz``, ``x.tgz``, ``x.tar.bz2``, ``x.tar.xz``: an archive;
- ``/path/x.parquet``, ``x.jsonl[.gz]`` or a folder of them with ``dataset:``: a dataset;
- ``docs:/path[#license=SPDX]``: a documentation tree (folder or archive of HTML, Markdown, reST
  pages), read as one document per section (:mod:`.docs`);
- ``stackexchange:/path`` (a dump folder, its Posts.xml or its .7z): one document per question
  thread (:mod:`.stackexchange`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.credentials import remember, split_userinfo
from data_platform.ingest.sources import archive, dataset, directory, docs, git, remote_git, stackexchange
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo

READERS = {"git": git, "remote_git": remote_git, "directory": directory, "archive": archive, "dataset": dataset,
           "docs": docs, "stackexchange": stackexchange}
_KIND_PREFIXES = {"git:": "git", "dir:": "directory", "directory:": "directory", "archive:": "archive",
                  "dataset:": "dataset", "docs:": "docs", "stackexchange:": "stackexchange"}
_REMOTE_PREFIXES = ("http://", "https://", "ssh://", "git://", "file://", "git@")

__all__ = [
    "Entry", "FileRecord", "Limits", "Listing", "SourceInfo", "list_source", "public_source", "read_entries",
    "source_kind",
]


def split_spec(spec: str) -> tuple[str | None, str, str | None]:
    """(explicit kind or None, location, ref or None)."""
    kind = None
    for prefix, named in _KIND_PREFIXES.items():
        if spec.startswith(prefix) and not spec.startswith("git@"):
            kind, spec = named, spec[len(prefix) :]
            break
    location, hash_, ref = spec.partition("#")
    return kind, location, (ref or None) if hash_ else None


def public_source(spec: str) -> str:
    """``spec`` without user info in its URL; the credentials are kept in memory for the fetch."""
    kind, location, ref = split_spec(spec)
    public, user, password = split_userinfo(location)
    if not (user or password):
        return spec
    remember(public, user or "", password or "")
    prefix = spec[: spec.index(location)] if location in spec else ""
    return f"{prefix}{public}" + (f"#{ref}" if ref is not None else "")


def source_kind(spec: str) -> str:
    kind, location, _ref = split_spec(spec)
    if kind:
        return kind
    if location.startswith(_REMOTE_PREFIXES):
        return "remote_git"
    path = Path(location).expanduser()
    if path.is_dir():
        return "git" if git.is_git_repository(path) else "directory"
    if archive.is_archive(path):
        return "archive"
    if dataset.is_dataset_file(path):
        return "dataset"
    return "directory" if not path.exists() else "unknown"


def list_source(spec: str, limits: Limits, default_ref: str = "HEAD", cache_dir: Path | None = None) -> Listing:
    """Identify and list one source (driver side); raises SourceError for an unusable source."""
    kind = source_kind(spec)
    _, location, ref = split_spec(spec)
    if kind == "docs":  # "#…" carries the docs options, not a git ref
        return docs.list_source(spec, Path(location).expanduser(), ref, limits)
    if kind == "stackexchange":
        return stackexchange.list_source(spec, Path(location).expanduser(), limits,
                                         Path(cache_dir or "~/.cache/codemill"))
    ref = ref or default_ref
    if kind == "remote_git":
        return remote_git.list_source(spec, location, ref, Path(cache_dir or "~/.cache/codemill/git").expanduser(),
                                      limits)
    path = Path(location).expanduser()
    if kind == "git":
        return git.list_source(spec, path, ref, limits)
    if kind == "unknown":
        raise E.SourceError(E.UNKNOWN_SOURCE, f"{path} is neither a folder, an archive nor a dataset file")
    return READERS[kind].list_source(spec, path, limits)


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    """Read listed entries (executor side); each becomes bytes or an error record."""
    return READERS[info.kind].read_entries(info, entries, limits)
