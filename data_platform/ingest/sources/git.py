"""Local git repositories (bare or not): the files of one commit, read from git objects.

Listing uses ``git ls-tree -r --long`` (mode, blob id, size, path: metadata only); executors
read bytes with one ``git cat-file --batch`` per task. The working tree is never read, so
uncommitted edits and ignored files stay out, and unchanged files keep their blob id.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.license import is_license_candidate
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo, stable_id

_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def git(location: str | Path, *args: str, input_bytes: bytes | None = None, check: bool = True) -> bytes:
    proc = subprocess.run(
        ["git", "-C", str(location), *args], input=input_bytes, capture_output=True, env=_ENV, timeout=600
    )
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise E.SourceError(E.CORRUPT_GIT, f"git {args[0]} failed: {message[-1] if message else proc.returncode}")
    return proc.stdout


def is_git_repository(path: Path) -> bool:
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def resolve_commit(location: str, ref: str) -> tuple[str, str | None]:
    commit = git(location, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).decode().strip()
    if not commit:
        raise E.SourceError(E.CORRUPT_GIT, f"ref {ref!r} does not name a commit (empty or corrupt repository?)")
    date = git(location, "show", "-s", "--format=%cI", commit).decode().strip() or None
    return commit, date


def list_tree(info: SourceInfo, limits: Limits, with_sizes: bool = True) -> Listing:
    """Entries of ``info.commit_sha``; symlinks, submodules and oversized blobs become errors."""
    args = ["ls-tree", "-r", "-z", "--full-tree"] + (["--long"] if with_sizes else []) + [info.commit_sha]
    listing = Listing(info)
    for record in git(info.location, *args).split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        path = raw_path.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8")
        mode, kind, blob, *size = meta.decode().split()
        file_error = _entry_error(mode, kind, size, limits)
        if file_error:
            listing.errors.append(E.IngestError(info.spec, path, "crawl", *file_error))
            continue
        listing.entries.append(Entry(path, blob, int(size[0]) if size and size[0] != "-" else None, blob))
    candidates = [e for e in listing.entries if is_license_candidate(e.path) and (e.size or 0) < 200_000]
    for entry, record in zip(candidates, read_blobs(info.location, [e.blob_sha for e in candidates]), strict=True):
        if record is not None:
            listing.license_files[entry.path] = record.decode("utf-8", "replace")
    return listing


def _entry_error(mode: str, kind: str, size: list[str], limits: Limits) -> tuple[str, str] | None:
    if mode == "120000":
        return E.SYMLINK, "symbolic link (not followed)"
    if kind == "commit":
        return E.SUBMODULE, "git submodule (not crawled)"
    if size and size[0] != "-" and int(size[0]) > limits.max_file_bytes:
        return E.TOO_LARGE, f"{size[0]} bytes > max_file_bytes {limits.max_file_bytes}"
    return None


def read_blobs(location: str, blob_ids: list[str]) -> list[bytes | None]:
    """Bytes of each blob (None when missing), through one ``git cat-file --batch``."""
    if not blob_ids:
        return []
    out = git(location, "cat-file", "--batch", input_bytes=("\n".join(blob_ids) + "\n").encode())
    results: list[bytes | None] = []
    pos = 0
    for _ in blob_ids:
        eol = out.index(b"\n", pos)
        header = out[pos:eol].split()
        if len(header) < 3 or header[1] != b"blob":
            results.append(None)
            pos = eol + 1
            continue
        size = int(header[2])
        results.append(out[eol + 1 : eol + 1 + size])
        pos = eol + 1 + size + 1
    return results


def list_source(spec: str, location: Path, ref: str, limits: Limits) -> Listing:
    if not location.exists():
        raise E.SourceError(E.MISSING_PATH, f"no such path: {location}")
    if not is_git_repository(location):
        raise E.SourceError(E.CORRUPT_GIT, f"not a git repository: {location}")
    commit, date = resolve_commit(str(location), ref)
    name = location.name[:-4] if location.name.endswith(".git") else location.name
    url = str(location.resolve())
    info = SourceInfo(spec, "git", str(location.resolve()), stable_id(url), url, name, commit, ref, date)
    return list_tree(info, limits)


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    try:
        contents = read_blobs(info.location, [entry.locator for entry in entries])
    except (E.SourceError, subprocess.SubprocessError, OSError) as err:
        for entry in entries:
            yield FileRecord(entry.path, error_kind=E.UNREADABLE, error_message=f"git cat-file failed: {err}")
        return
    for entry, content in zip(entries, contents, strict=True):
        if content is None:
            yield FileRecord(entry.path, error_kind=E.UNREADABLE, error_message=f"blob {entry.locator} missing")
        elif len(content) > limits.max_file_bytes:
            yield FileRecord(entry.path, error_kind=E.TOO_LARGE, error_message=f"{len(content)} bytes")
        else:
            yield FileRecord(entry.path, content)
