"""Stack Exchange data dumps (``stackexchange:PATH``): a site's folder, its ``Posts.xml``, or its ``.7z``.

The folder holds ``Posts.xml`` and optionally ``Users.xml`` (authors' names for attribution)
and ``Tags.xml``; the site is the folder's name (``cooking.stackexchange.com``), which gives the
threads' URLs. A ``.7z`` archive (the form the dumps are published in) is extracted with
``py7zr`` into the cache folder, once per archive version, decompressed to disk in blocks and
never held in memory; its name gives the site (``cooking.stackexchange.com.7z``,
``stackoverflow.com-Posts.7z``). Without py7zr the source fails with a message saying what to do.

The listing is a single entry read by one task: :mod:`data_platform.ingest.qa_posts` streams
the file twice and yields one record per thread (path ``questions/<id>``, bytes: the thread as
JSON, license: the CC BY-SA version of the question's date). The filters from the ``qa`` config
section travel in the entry (:func:`with_filters`), since readers see no configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.qa_posts import QaFilters, assemble_threads, choose_answers, iter_rows, license_for
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo, stable_id

KIND = "stackexchange"
DUMP_FILES = ("Posts.xml", "Users.xml", "Tags.xml")
EXTRACT_BLOCK_BYTES = 4 << 20  # .7z extraction writes Posts.xml in blocks of this size


def _dump_folder(path: Path, cache_dir: Path) -> Path:
    if path.is_file() and path.name.lower() == "posts.xml":
        return path.parent
    if path.is_file() and path.suffix.lower() == ".7z":
        return _extract_7z(path, cache_dir)
    if not path.is_dir():
        raise E.SourceError(E.MISSING_PATH, f"no such dump folder, Posts.xml or .7z archive: {path}")
    return path


def _extract_7z(path: Path, cache_dir: Path) -> Path:
    try:
        import py7zr
    except ImportError as err:
        raise E.SourceError(E.UNKNOWN_SOURCE, f"{path.name} is a .7z archive and py7zr is not installed: "
                            "pip install py7zr, or extract it (7z x) and give the folder") from err
    # One folder per archive version: listing it again (every run) neither re-extracts nor changes
    # the extracted files' times, which the dump's snapshot id is made of.
    stat = path.stat()
    target = cache_dir.expanduser() / "stackexchange" / stable_id(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}")
    done = target / ".extracted"
    if not done.exists():
        target.mkdir(parents=True, exist_ok=True)
        with py7zr.SevenZipFile(path) as archive, _bounded_blocks(py7zr):
            wanted = [name for name in archive.getnames() if name.rsplit("/", 1)[-1] in DUMP_FILES]
            archive.extract(path=target, targets=wanted)
        done.write_text(path.name)
    posts = next(target.rglob("Posts.xml"), None)
    if posts is None:
        raise E.SourceError(E.CORRUPT_ARCHIVE, f"{path.name} holds no Posts.xml")
    return posts.parent


@contextmanager
def _bounded_blocks(py7zr):
    """Decompress in blocks of EXTRACT_BLOCK_BYTES while extracting.

    py7zr writes each file in blocks as large as its memory limit allows, which it sizes from
    the machine's available memory (128 MB at least): a dump's Posts.xml would sit in memory in
    blocks of gigabytes. Its block size is read from a module function at each extraction, so
    it is swapped for the extraction and restored after.
    """
    module = py7zr.py7zr
    original = module.get_memory_limit
    module.get_memory_limit = lambda: EXTRACT_BLOCK_BYTES
    try:
        yield
    finally:
        module.get_memory_limit = original


def _archive_site(name: str) -> str:
    """``stackoverflow.com-Posts.7z`` → ``stackoverflow.com`` (Stack Overflow ships one archive per file)."""
    stem = name[:-3]
    for part in DUMP_FILES:
        suffix = "-" + part.removesuffix(".xml")
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def list_source(spec: str, path: Path, limits: Limits, cache_dir: Path) -> Listing:
    folder = _dump_folder(path.expanduser(), cache_dir).resolve()
    posts = next((p for p in folder.iterdir() if p.name.lower() == "posts.xml"), None)
    if posts is None:
        raise E.SourceError(E.MISSING_PATH, f"{folder} has no Posts.xml")
    stat = posts.stat()
    site = (_archive_site(path.name) if path.suffix.lower() == ".7z" else folder.name) or "stackexchange"
    url = str(path.expanduser().resolve())
    commit = hashlib.sha1(f"{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    info = SourceInfo(spec, KIND, str(folder), stable_id(url), url, site, commit)
    locator = json.dumps({"folder": str(folder), "filters": asdict(QaFilters())})
    return Listing(info, [Entry("Posts.xml", locator, stat.st_size, chunk=0)])


def with_filters(listing: Listing, filters: QaFilters) -> None:
    """Put the configured filters into the listing's entry (the reader runs on executors)."""
    for entry in listing.entries:
        located = json.loads(entry.locator)
        located["filters"] = asdict(filters)
        entry.locator = json.dumps(located)


def _users(folder: Path) -> dict[str, str]:
    """User id → display name, streamed from Users.xml (absent: authors come from the posts only)."""
    users_file = next((p for p in folder.iterdir() if p.name.lower() == "users.xml"), None)
    if users_file is None:
        return {}
    with users_file.open("rb") as stream:
        return {row["Id"]: row["DisplayName"] for row in iter_rows(stream) if row.get("Id") and row.get("DisplayName")}


def _bad_row(bad: list[FileRecord], dump_file: str, where: str, message: str) -> None:
    bad.append(FileRecord(f"{dump_file}#{where}", error_kind=E.BAD_ROW, error_message=message))


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    import xml.etree.ElementTree as ET

    for entry in entries:
        located = json.loads(entry.locator)
        folder, filters = Path(located["folder"]), QaFilters(**{**located["filters"],
                                                               "tags": tuple(located["filters"]["tags"])})
        posts = folder / entry.path
        bad: list[FileRecord] = []
        on_error = partial(_bad_row, bad, entry.path)
        try:
            with posts.open("rb") as stream:
                needed = choose_answers(iter_rows(stream), filters, on_error)
            users = _users(folder)
            with posts.open("rb") as stream:
                for thread in assemble_threads(iter_rows(stream), needed, users):
                    thread.site = info.repo_name
                    yield FileRecord(f"questions/{thread.question_id}", thread.to_json().encode("utf-8"),
                                     license_spdx=license_for(thread.question.created))
        except (ET.ParseError, OSError) as err:
            bad.append(FileRecord(entry.path, error_kind=E.UNREADABLE, error_message=f"{type(err).__name__}: {err}"))
        yield from bad
