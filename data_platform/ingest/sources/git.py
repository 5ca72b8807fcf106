"""Local git repositories (bare or not): the files of one commit, read from git objects.

Listing uses ``git ls-tree -r`` (mode, blob id, path: metadata only), then asks the object
store which blobs it holds and how big they are; executors read bytes with one
``git cat-file --batch`` per task. The working tree is never read, so uncommitted edits and
ignored files stay out, and unchanged files keep their blob id.

Real repositories are not always whole: a partial (blob-filtered) clone whose remote is gone,
a shallow or damaged repository. A tree entry whose object is absent or unreadable costs that
entry only: it becomes one ``missing_object`` error and the rest of the commit is ingested.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.refs import check_ref
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo, stable_id
from data_platform.licenses import is_license_candidate

# GIT_NO_LAZY_FETCH (git >= 2.44) stops a partial clone from fetching absent objects behind
# our back; older git ignores it, which is why absent objects are found with rev-list first.
_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
_NO_FETCH_ENV = {**_ENV, "GIT_NO_LAZY_FETCH": "1"}


def git(location: str | Path, *args: str, input_bytes: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> bytes:
    proc = subprocess.run(
        ["git", "-C", str(location), *args], input=input_bytes, capture_output=True, env=env or _ENV, timeout=600
    )
    if check and proc.returncode != 0:
        raise E.SourceError(E.CORRUPT_GIT, f"git {args[0]} failed: {_last_line(proc.stderr, proc.returncode)}")
    return proc.stdout


def _last_line(stderr: bytes, returncode: int) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {returncode}"


def is_git_repository(path: Path) -> bool:
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def resolve_commit(location: str, ref: str) -> tuple[str, str | None]:
    check_ref(ref)
    commit = git(location, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
                 check=False).decode().strip()
    if not commit:
        raise E.SourceError(E.CORRUPT_GIT, f"ref {ref!r} does not name a commit (empty or corrupt repository?)")
    date = commit_date(location, commit)
    return commit, date


def commit_date(location: str, commit: str) -> str | None:
    """Committer date (ISO 8601). ``git log``, not ``git show``: show reads the tree and fails
    on a repository with a missing tree object, which must cost a directory, not the source."""
    return git(location, "log", "-1", "--format=%cI", "--end-of-options", commit, check=False).decode().strip() or None


# ----------------------------------------------------------------------------- tree listing


@dataclass(frozen=True)
class TreeRecord:
    mode: str
    kind: str  # blob, tree, commit (submodule)
    object_id: str
    path: str


def _decode_path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8")


def parse_tree_records(output: bytes, prefix: str = "") -> tuple[list[TreeRecord], list[str]]:
    """``ls-tree -z`` output → records, plus the raw text of records that do not parse."""
    records, odd = [], []
    for raw in output.split(b"\0"):
        if not raw:
            continue
        meta, tab, raw_path = raw.partition(b"\t")
        fields = meta.decode("ascii", "replace").split()
        if not tab or len(fields) < 3 or not raw_path:
            odd.append(raw.decode("utf-8", "replace")[:200])
            continue
        records.append(TreeRecord(fields[0], fields[1], fields[2], prefix + _decode_path(raw_path)))
    return records, odd


def tree_records(location: str, commit: str, spec: str) -> tuple[list[TreeRecord], list[E.IngestError]]:
    """Every entry of the commit's tree, recursively; unreadable subtrees become errors.

    One ``ls-tree -r`` normally; if a tree object is missing it fails, and the tree is walked
    one level at a time instead so that only the unreadable directory is lost.
    """
    proc = subprocess.run(["git", "-C", location, "ls-tree", "-r", "-z", "--full-tree", commit],
                          capture_output=True, env=_NO_FETCH_ENV, timeout=600)
    errors: list[E.IngestError] = []
    if proc.returncode == 0:
        records, odd = parse_tree_records(proc.stdout)
    else:
        records, odd = [], []
        _walk(location, f"{commit}^{{tree}}", "", spec, records, odd, errors)
    errors += [E.IngestError(spec, "", "crawl", E.UNREADABLE, f"unparseable ls-tree record: {text!r}") for text in odd]
    return records, errors


def _walk(location: str, tree: str, prefix: str, spec: str, records: list[TreeRecord], odd: list[str],
          errors: list[E.IngestError]) -> None:
    proc = subprocess.run(["git", "-C", location, "ls-tree", "-z", tree], capture_output=True, env=_NO_FETCH_ENV,
                          timeout=600)
    if proc.returncode != 0:
        where = prefix or "/"
        message = f"tree {tree} is not readable ({_last_line(proc.stderr, proc.returncode)}); its files are skipped"
        errors.append(E.IngestError(spec, where, "crawl", E.MISSING_OBJECT, message))
        return
    level, level_odd = parse_tree_records(proc.stdout, prefix)
    odd.extend(level_odd)
    for record in level:
        if record.kind == "tree":
            _walk(location, record.object_id, record.path + "/", spec, records, odd, errors)
        else:
            records.append(record)


# ----------------------------------------------------------------------------- the object store


def absent_objects(location: str, commit: str) -> set[str]:
    """Objects the commit's tree names but the store lacks; never fetches (rev-list --missing=print)."""
    proc = subprocess.run(["git", "-C", location, "rev-list", "--objects", "--missing=print", f"{commit}^{{tree}}"],
                          capture_output=True, env=_NO_FETCH_ENV, timeout=600)
    return {line[1:].strip() for line in proc.stdout.decode("ascii", "replace").splitlines() if line.startswith("?")}


def object_sizes(location: str, object_ids: list[str]) -> dict[str, int | None]:
    """Size of each object the store can read, None for those it reports missing or corrupt.

    ``cat-file --batch-check`` answers "missing" for an absent object and for a loose object
    that does not inflate. Ids not in the answer (the command failed) are left out: their
    size is then checked when executors read them.
    """
    if not object_ids:
        return {}
    proc = subprocess.run(["git", "-C", location, "cat-file", "--batch-check"],
                          input=("\n".join(object_ids) + "\n").encode(), capture_output=True, env=_NO_FETCH_ENV,
                          timeout=600)
    sizes: dict[str, int | None] = {}
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == "missing":
            sizes[fields[0]] = None
        elif len(fields) == 3 and fields[2].isdigit():
            sizes[fields[0]] = int(fields[2])
    return sizes


def is_partial_clone(location: str) -> bool:
    """True when the repository may fetch absent objects from a promisor remote."""
    config = git(location, "config", "--get-regexp", r"^(remote\..*\.promisor|extensions\.partialclone)$",
                 check=False).decode().lower()
    return any(line.split()[-1] not in ("false", "") for line in config.splitlines() if line.split())


def fetch_objects(location: str, object_ids: list[str]) -> None:
    """Fetch absent objects from the promisor remote in one request (git's lazy fetch, batched).

    A remote that lacks one of them refuses the whole request; the objects are then asked for
    one by one, so one lost blob does not cost its neighbours. Failure is not an error here:
    whatever is still absent afterwards becomes a ``missing_object`` error for its entry.
    """
    if object_ids and not _fetch(location, object_ids) and len(object_ids) > 1:
        for object_id in object_ids:
            _fetch(location, [object_id])


def _fetch(location: str, object_ids: list[str]) -> bool:
    proc = subprocess.run(
        ["git", "-C", location, "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags",
         "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin", "origin"],
        input=("\n".join(object_ids) + "\n").encode(), capture_output=True, env=_ENV, timeout=900,
    )
    return proc.returncode == 0


def read_blobs(location: str, blob_ids: list[str]) -> list[bytes | None]:
    """Bytes of each blob (None when missing), through one ``git cat-file --batch``."""
    if not blob_ids:
        return []
    out = git(location, "cat-file", "--batch", input_bytes=("\n".join(blob_ids) + "\n").encode(),
              env=_NO_FETCH_ENV)
    results: list[bytes | None] = []
    pos = 0
    for _ in blob_ids:
        eol = out.index(b"\n", pos)
        header = out[pos:eol].split()
        if len(header) < 3 or header[1] != b"blob" or not header[2].isdigit():
            results.append(None)
            pos = eol + 1
            continue
        size = int(header[2])
        results.append(out[eol + 1 : eol + 1 + size])
        pos = eol + 1 + size + 1
    return results


def read_blob(location: str, blob_id: str) -> bytes | str:
    """One blob's bytes, or git's reason it cannot give them (the fallback when a batch dies)."""
    proc = subprocess.run(["git", "-C", location, "cat-file", "blob", blob_id], capture_output=True,
                          env=_NO_FETCH_ENV, timeout=600)
    return proc.stdout if proc.returncode == 0 else _last_line(proc.stderr, proc.returncode)


def read_blobs_isolated(location: str, blob_ids: list[str]) -> list[bytes | str]:
    """Like :func:`read_blobs`, but a bad object costs only itself: bytes or a reason per blob.

    One batch normally; if git dies on some object mid-batch, each blob is read on its own.
    """
    try:
        batch = read_blobs(location, blob_ids)
    except (E.SourceError, subprocess.SubprocessError, OSError, ValueError):
        return [read_blob(location, blob_id) for blob_id in blob_ids]
    return [content if content is not None else f"blob {blob_id} is not in the object store (or is corrupt)"
            for blob_id, content in zip(blob_ids, batch, strict=True)]


# ----------------------------------------------------------------------------- listing


def list_tree(info: SourceInfo, limits: Limits, check_objects: bool = True) -> Listing:
    """Entries of ``info.commit_sha``; links, submodules, oversized and missing blobs become errors.

    ``check_objects`` asks the object store, before any byte is read, which blobs it has and
    their sizes (fetching absent ones first from a partial clone's remote). A remote source
    turns it off: its blobs arrive on demand when executors read them.
    """
    listing = Listing(info)
    records, errors = tree_records(info.location, info.commit_sha, info.spec)
    listing.errors.extend(errors)
    blob_ids = sorted({r.object_id for r in records if r.kind == "blob" and r.mode != "120000"})
    absent: set[str] = set()
    sizes: dict[str, int | None] = {}
    if check_objects and blob_ids:
        absent = absent_objects(info.location, info.commit_sha) & set(blob_ids)
        if absent and is_partial_clone(info.location):
            fetch_objects(info.location, sorted(absent))
            absent = absent_objects(info.location, info.commit_sha) & set(blob_ids)
        sizes = object_sizes(info.location, [b for b in blob_ids if b not in absent])
        absent |= {blob for blob, size in sizes.items() if size is None}
    for record in records:
        problem = _entry_error(record, absent, sizes, limits)
        if problem:
            listing.errors.append(E.IngestError(info.spec, record.path, "crawl", *problem))
            continue
        listing.entries.append(Entry(record.path, record.object_id, sizes.get(record.object_id), record.object_id))
    _read_license_files(listing)
    return listing


def _entry_error(record: TreeRecord, absent: set[str], sizes: dict[str, int | None],
                 limits: Limits) -> tuple[str, str] | None:
    if record.mode == "120000":
        return E.SYMLINK, "symbolic link (not followed)"
    if record.kind == "commit":
        return E.SUBMODULE, "git submodule (not crawled)"
    if record.kind != "blob":
        return E.UNREADABLE, f"unexpected tree entry of type {record.kind!r}"
    if record.object_id in absent:
        return E.MISSING_OBJECT, (f"blob {record.object_id} is not in the object store (partial, shallow or "
                                  "damaged repository)")
    size = sizes.get(record.object_id)
    if size is not None and size > limits.max_file_bytes:
        return E.TOO_LARGE, f"{size} bytes > max_file_bytes {limits.max_file_bytes}"
    return None


def _read_license_files(listing: Listing) -> None:
    """Root license candidates' text, for license detection; an unreadable one is skipped here
    (executors record it when they read the entry)."""
    candidates = [e for e in listing.entries if is_license_candidate(e.path) and (e.size or 0) < 200_000]
    location, wanted = listing.info.location, {e.blob_sha for e in candidates}
    if wanted and is_partial_clone(location):  # a remote listing has not fetched any blob yet
        fetch_objects(location, sorted(absent_objects(location, listing.info.commit_sha) & wanted))
    contents = read_blobs_isolated(location, [e.blob_sha for e in candidates])
    for entry, content in zip(candidates, contents, strict=True):
        if isinstance(content, bytes):
            listing.license_files[entry.path] = content.decode("utf-8", "replace")


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
    contents = read_blobs_isolated(info.location, [entry.locator for entry in entries])
    for entry, content in zip(entries, contents, strict=True):
        if isinstance(content, str):
            yield FileRecord(entry.path, error_kind=E.MISSING_OBJECT, error_message=content)
        elif len(content) > limits.max_file_bytes:
            yield FileRecord(entry.path, error_kind=E.TOO_LARGE, error_message=f"{len(content)} bytes")
        else:
            yield FileRecord(entry.path, content)
