"""Plain directories: every regular file under the root, links never followed.

The listing records (path, size, mtime) with ``lstat``; its hash stands in for a commit id.
``.git`` folders are skipped (crawl the repository as a git source to read its history).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo, stable_id
from data_platform.licenses import is_license_candidate

SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__"})


def list_source(spec: str, root: Path, limits: Limits) -> Listing:
    if not root.exists():
        raise E.SourceError(E.MISSING_PATH, f"no such path: {root}")
    root = root.resolve()
    url = str(root)
    info = SourceInfo(spec, "directory", url, stable_id(url), url, root.name, "")
    listing = Listing(info)
    digest = hashlib.sha1()

    def on_error(err: OSError) -> None:
        # A folder that cannot be listed is recorded as "folder/" ("" for the root): its files
        # are not known to be deleted, so deletions leave them alone.
        rel = os.path.relpath(err.filename, root).replace(os.sep, "/") if err.filename else "."
        folder = "" if rel == "." else rel.rstrip("/") + "/"
        listing.errors.append(E.IngestError(spec, folder, "crawl", E.UNREADABLE, str(err)))

    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            try:
                st = os.lstat(full)
            except OSError as err:
                listing.errors.append(E.IngestError(spec, rel, "crawl", E.UNREADABLE, str(err)))
                continue
            problem = _problem(full, root, st, limits)
            if problem:
                listing.errors.append(E.IngestError(spec, rel, "crawl", *problem))
                continue
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "replace"))
            listing.entries.append(Entry(rel, full, st.st_size))
    info.commit_sha = digest.hexdigest()
    for entry in listing.entries:
        if is_license_candidate(entry.path) and (entry.size or 0) < 200_000:
            try:
                listing.license_files[entry.path] = Path(entry.locator).read_text("utf-8", errors="replace")
            except OSError:
                pass
    return listing


def _problem(full: str, root: Path, st: os.stat_result, limits: Limits) -> tuple[str, str] | None:
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(full)
        inside = target == str(root) or target.startswith(str(root) + os.sep)
        where = "inside the root" if inside else "outside the root"
        return E.SYMLINK, f"symbolic link to {where} (not followed): {os.readlink(full)}"
    if not stat.S_ISREG(st.st_mode):
        return E.UNREADABLE, "not a regular file"
    if st.st_size > limits.max_file_bytes:
        return E.TOO_LARGE, f"{st.st_size} bytes > max_file_bytes {limits.max_file_bytes}"
    return None


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    for entry in entries:
        try:
            # O_NOFOLLOW: a file swapped for a link after listing is still not followed.
            fd = os.open(entry.locator, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                content = handle.read(limits.max_file_bytes + 1)
        except OSError as err:
            yield FileRecord(entry.path, error_kind=E.UNREADABLE, error_message=str(err))
            continue
        if len(content) > limits.max_file_bytes:
            yield FileRecord(entry.path, error_kind=E.TOO_LARGE, error_message="grew past max_file_bytes")
        else:
            yield FileRecord(entry.path, content)
