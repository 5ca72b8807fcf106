"""Parquet/JSONL datasets in The Stack's layout: one row per file with repo, path and content.

The driver lists files and Parquet row groups (metadata only); each becomes one task.
Column names vary between dumps, so each role accepts a few spellings (The Stack uses
``max_stars_repo_name``, ``max_stars_repo_path``, ``content``). A row missing one of them,
or a JSONL line that is not JSON, becomes a ``bad_row`` error.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.credentials import split_userinfo
from data_platform.ingest.sources.base import (
    Entry,
    FileRecord,
    Limits,
    Listing,
    SourceInfo,
    safe_relative_path,
    stable_id,
)

MAX_REPO_NAME_CHARS = 500
DATASET_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".ndjson")
COLUMNS = {
    "content": ("content", "text", "code"),
    "path": ("path", "max_stars_repo_path", "file_path", "filepath"),
    "repo": ("repo_name", "max_stars_repo_name", "repository", "repo"),
    "stars": ("max_stars_count", "stars", "stargazers_count"),
    "license": ("max_stars_repo_licenses", "licenses", "license"),
}


def is_dataset_file(path: Path) -> bool:
    return path.name.lower().endswith(DATASET_SUFFIXES)


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and is_dataset_file(p))


def list_source(spec: str, root: Path, limits: Limits) -> Listing:
    if not root.exists():
        raise E.SourceError(E.MISSING_PATH, f"no such path: {root}")
    root = root.resolve()
    files = _files(root)
    if not files:
        raise E.SourceError(E.BAD_DATASET, f"no .parquet or .jsonl files under {root}")
    url = str(root)
    info = SourceInfo(spec, "dataset", url, stable_id(url), url, root.name, "")
    listing = Listing(info, per_row_repos=True)
    digest = hashlib.sha1()
    for file in files:
        st = file.stat()
        digest.update(f"{file}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            try:
                parquet = pq.ParquetFile(file)
            except Exception as err:  # pyarrow raises several types for corrupt files
                listing.errors.append(E.IngestError(spec, str(file), "crawl", E.BAD_DATASET, str(err)))
                continue
            missing = [role for role in ("content", "path", "repo") if _pick(parquet.schema_arrow.names, role) is None]
            if missing:
                message = f"no column for {', '.join(missing)} (accepted: {COLUMNS})"
                listing.errors.append(E.IngestError(spec, str(file), "crawl", E.BAD_DATASET, message))
                continue
            for group in range(parquet.metadata.num_row_groups):
                listing.entries.append(Entry("", f"{file}\t{group}"))
        else:
            listing.entries.append(Entry("", str(file)))
    info.commit_sha = digest.hexdigest()
    return listing


def _pick(names, role: str) -> str | None:
    return next((name for name in COLUMNS[role] if name in names), None)


def _license(value) -> str | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value else None


def _record(row: dict, where: str, limits: Limits) -> FileRecord:
    names = row.keys()
    content_col, path_col, repo_col = (_pick(names, role) for role in ("content", "path", "repo"))
    content = row.get(content_col) if content_col else None
    path = row.get(path_col) if path_col else None
    repo = row.get(repo_col) if repo_col else None
    if content is None or not path or not repo:
        return FileRecord(where, error_kind=E.BAD_ROW, error_message="row lacks content, path or repository")
    if not isinstance(content, str | bytes) or not isinstance(path, str) or not isinstance(repo, str):
        kinds = f"content {type(content).__name__}, path {type(path).__name__}, repository {type(repo).__name__}"
        return FileRecord(where, error_kind=E.BAD_ROW, error_message=f"expected text columns, got {kinds}")
    safe_path = safe_relative_path(path)
    if safe_path is None or any(ord(c) < 32 for c in path):
        return FileRecord(where, error_kind=E.PATH_ESCAPE, error_message=f"row path {path[:120]!r} is absolute, "
                          "climbs out of the repository or holds control characters")
    if len(repo) > MAX_REPO_NAME_CHARS or any(ord(c) < 32 for c in repo):
        return FileRecord(where, error_kind=E.BAD_ROW, error_message="repository name too long or with control characters")
    path, repo = safe_path, split_userinfo(repo)[0]  # a row's repository URL may carry a token
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    stars_col, license_col = _pick(names, "stars"), _pick(names, "license")
    if len(content) > limits.max_file_bytes:
        return FileRecord(path, error_kind=E.TOO_LARGE, error_message=f"{len(content)} bytes", repo_name=repo)
    stars = row.get(stars_col) if stars_col else None
    return FileRecord(
        path, bytes(content), repo_name=repo,
        stars=int(stars) if isinstance(stars, int | float) and math.isfinite(stars) else None,
        license_spdx=_license(row.get(license_col)) if license_col else None,
    )


def _checked_record(row, where: str, limits: Limits) -> FileRecord:
    """One row → one record; a row that breaks the reader costs that row only."""
    if not isinstance(row, dict):
        return FileRecord(where, error_kind=E.BAD_ROW, error_message="not a JSON object")
    try:
        return _record(row, where, limits)
    except Exception as err:  # odd values (surrogates, huge numbers): the row, not the file
        return FileRecord(where, error_kind=E.BAD_ROW, error_message=f"{type(err).__name__}: {err}")


def _parquet_rows(file: str, group: str, limits: Limits) -> Iterator[FileRecord]:
    import pyarrow.parquet as pq

    where = f"{Path(file).name}:group{group}"
    try:
        rows = pq.ParquetFile(file).read_row_group(int(group)).to_pylist()
    except Exception as err:  # a corrupt page or row group: that row group, not the file
        yield FileRecord(where, error_kind=E.BAD_DATASET, error_message=f"{type(err).__name__}: {err}")
        return
    for number, row in enumerate(rows):
        yield _checked_record(row, f"{where}:row{number}", limits)


def _jsonl_rows(file: str, limits: Limits) -> Iterator[FileRecord]:
    opener = gzip.open if file.endswith(".gz") else open
    number = 0
    try:
        with opener(file, "rt", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                where = f"{Path(file).name}:line{number}"
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as err:
                    yield FileRecord(where, error_kind=E.BAD_ROW, error_message=f"not JSON: {err}")
                    continue
                yield _checked_record(row, where, limits)
    except Exception as err:  # a truncated .gz: the lines read so far stay
        yield FileRecord(f"{Path(file).name}:line{number + 1}", error_kind=E.BAD_DATASET,
                         error_message=f"file unreadable from here: {type(err).__name__}: {err}")


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    for entry in entries:
        file, _, group = entry.locator.partition("\t")
        yield from _parquet_rows(file, group, limits) if group else _jsonl_rows(file, limits)


def repo_url_for(repo_name: str) -> str:
    """Dataset rows name repositories as owner/name; give them the URL a git crawl would use."""
    return repo_name if "://" in repo_name else f"https://github.com/{repo_name}"


def repo_id_for(repo_name: str) -> str:
    return stable_id(repo_url_for(repo_name))
