"""Tar and zip archives, read in place with the checks safe extraction needs.

Nothing is written to disk: executors read members straight from the archive. Every
member is checked on the driver first: names that are absolute or climb out of the root
(zip-slip) and links are refused. Bombs are stopped while they expand: decompression runs in
chunks under a running limit (bytes out against ``archive_max_total_bytes``, and against
``archive_max_ratio`` times the compressed bytes read), and stops at the limit with one
``archive_bomb`` error; the members before it are ingested (a zip's other members too).
Zip members are read in parallel; a tar is a single compressed stream, so one task reads it.
"""

from __future__ import annotations

import hashlib
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.sources.base import (
    Entry,
    FileRecord,
    Limits,
    Listing,
    SourceInfo,
    safe_relative_path,
    stable_id,
)
from data_platform.licenses import is_license_candidate

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
CHUNK_BYTES = 1 << 20
RATIO_FLOOR_BYTES = 1_000_000  # below this much output, ratios say nothing (tiny files compress well)


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def list_source(spec: str, path: Path, limits: Limits) -> Listing:
    if not path.exists():
        raise E.SourceError(E.MISSING_PATH, f"no such path: {path}")
    path = path.resolve()
    url = str(path)
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    info = SourceInfo(spec, "archive", url, stable_id(url), url, name, "")
    try:
        listing = _list_zip(info, path, limits) if zipfile.is_zipfile(path) else _list_tar(info, path, limits)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise E.SourceError(E.CORRUPT_ARCHIVE, f"cannot read archive: {err}") from err
    digest = hashlib.sha1()
    for entry in listing.entries:
        digest.update(f"{entry.path}\0{entry.size}\n".encode())
    digest.update(str(path.stat().st_mtime_ns).encode())
    info.commit_sha = digest.hexdigest()
    wanted = [e for e in listing.entries if is_license_candidate(e.path) and (e.size or 0) < 200_000]
    for record in read_entries(info, wanted, limits):
        if record.content is not None:
            listing.license_files[record.path] = record.content.decode("utf-8", "replace")
    return listing


def _check_member(listing: Listing, raw_name: str, is_link: bool, size: int, limits: Limits) -> str | None:
    spec = listing.info.spec
    rel = safe_relative_path(raw_name)
    if rel is None:
        listing.errors.append(E.IngestError(spec, raw_name, "crawl", E.PATH_ESCAPE, "entry escapes the archive root"))
        return None
    if is_link:
        listing.errors.append(E.IngestError(spec, rel, "crawl", E.SYMLINK, "link entry (not followed)"))
        return None
    if size > limits.max_file_bytes:
        message = f"{size} bytes > max_file_bytes {limits.max_file_bytes}"
        listing.errors.append(E.IngestError(spec, rel, "crawl", E.TOO_LARGE, message))
        return None
    return rel


def _list_zip(info: SourceInfo, path: Path, limits: Limits) -> Listing:
    """Members from the central directory; a bomb member costs itself, a total past the limit stops the listing."""
    listing = Listing(info)
    total = 0
    with zipfile.ZipFile(path) as archive:
        for member in (m for m in archive.infolist() if not m.is_dir()):
            total += member.file_size
            if total > limits.archive_max_total_bytes:
                listing.errors.append(E.IngestError(
                    info.spec, member.filename, "crawl", E.ARCHIVE_BOMB,
                    f"members expand to more than archive_max_total_bytes {limits.archive_max_total_bytes} from here "
                    f"on; the {len(listing.entries)} members before it are ingested"))
                break
            if member.file_size > RATIO_FLOOR_BYTES and member.file_size > limits.archive_max_ratio * max(
                member.compress_size, 1
            ):
                listing.errors.append(E.IngestError(info.spec, member.filename, "crawl", E.ARCHIVE_BOMB,
                                                    f"entry compression ratio > {limits.archive_max_ratio:.0f}"))
                continue
            is_link = stat.S_ISLNK(member.external_attr >> 16)
            rel = _check_member(listing, member.filename, is_link, member.file_size, limits)
            if rel is not None:
                listing.entries.append(Entry(rel, member.filename, member.file_size))
    return listing




def running_bomb(total: int, packed: int, limits: Limits) -> str | None:
    """Why decompression must stop now (bytes out so far vs compressed bytes in), or None."""
    if total > limits.archive_max_total_bytes:
        return f"{total} bytes decompressed > archive_max_total_bytes {limits.archive_max_total_bytes}"
    if total > RATIO_FLOOR_BYTES and total > limits.archive_max_ratio * max(packed, 1):
        return f"{total} bytes out of {packed} compressed: ratio > archive_max_ratio {limits.archive_max_ratio:.0f}"
    return None


def _drain_member(archive: tarfile.TarFile, member: tarfile.TarInfo, raw, total: int, limits: Limits):
    """Decompress one member in chunks; returns (new total, why it had to stop or None)."""
    handle = archive.extractfile(member)
    while handle is not None:
        chunk = handle.read(CHUNK_BYTES)
        if not chunk:
            break
        total += len(chunk)
        bomb = running_bomb(total, raw.tell(), limits)
        if bomb:
            return total, bomb
    return total, None


def _tar_members(info: SourceInfo, path: Path, listing: Listing, limits: Limits) -> list[tarfile.TarInfo]:
    """Members in stream order, decompressed under a running size and ratio limit.

    A bomb is noticed while it expands, not after: the stream is read in 1 MiB chunks and
    reading stops as soon as the bytes out exceed ``archive_max_total_bytes`` or
    ``archive_max_ratio`` times the compressed bytes read. The members before the one that
    tripped the limit are kept (one ``archive_bomb`` error names it); so are the members
    before the first unreadable header of a truncated or damaged stream.
    """
    members: list[tarfile.TarInfo] = []
    total = 0
    with open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as archive:
        draining = None
        try:
            for member in archive:
                if member.isreg():
                    draining = member
                    total, bomb = _drain_member(archive, member, raw, total, limits)
                    draining = None
                    if bomb:
                        listing.errors.append(E.IngestError(
                            info.spec, member.name, "crawl", E.ARCHIVE_BOMB,
                            f"stopped reading the archive in this member: {bomb}; the {len(members)} "
                            "members before it are ingested, the rest of the stream is not read"))
                        return members
                members.append(member)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
            if draining is not None:
                members.append(draining)  # its header is whole: reading it gives its own corrupt_member row
            if not members:
                raise
            after = members[-1].name
            listing.errors.append(E.IngestError(info.spec, "", "crawl", E.CORRUPT_ARCHIVE,
                                                f"archive is corrupt or truncated after member {after!r} "
                                                f"({type(err).__name__}: {err}); the {len(members)} members "
                                                "before it are read"))
    return members


def _list_tar(info: SourceInfo, path: Path, limits: Limits) -> Listing:
    listing = Listing(info)
    members = _tar_members(info, path, listing, limits)
    for member in members:
        if member.isdir():
            continue
        if not (member.isreg() or member.issym() or member.islnk()):
            listing.errors.append(E.IngestError(info.spec, member.name, "crawl", E.UNREADABLE, "special file entry"))
            continue
        rel = _check_member(listing, member.name, member.issym() or member.islnk(), member.size, limits)
        if rel is not None:
            listing.entries.append(Entry(rel, member.name, member.size, chunk=0))
    return listing


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    path = Path(info.location)
    if zipfile.is_zipfile(path):
        yield from _read_zip(path, entries, limits)
    else:
        yield from _read_tar(path, entries, limits)


def _read_zip(path: Path, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    """Members are independent in a zip: a corrupt one (bad CRC, broken deflate data) costs itself."""
    with zipfile.ZipFile(path) as archive:
        for entry in entries:
            try:
                content, bomb = _read_zip_member(archive, entry.locator, limits)
                if bomb:
                    yield FileRecord(entry.path, error_kind=E.ARCHIVE_BOMB, error_message=f"reading stopped: {bomb}")
                    continue
            except KeyError as err:
                yield FileRecord(entry.path, error_kind=E.UNREADABLE, error_message=f"member vanished: {err}")
                continue
            except Exception as err:  # zlib.error, BadZipFile (CRC), EOFError, encrypted or unknown method
                yield FileRecord(entry.path, error_kind=E.CORRUPT_MEMBER,
                                 error_message=f"{type(err).__name__}: {err}")
                continue
            yield _checked(entry, content, limits)


def _read_zip_member(archive: zipfile.ZipFile, name: str, limits: Limits) -> tuple[bytes, str | None]:
    """A member's bytes, read in chunks and stopped once past max_file_bytes or the ratio limit.

    Declared sizes were checked at listing, but a header can lie: the running check holds
    whatever the member really expands to.
    """
    packed = archive.getinfo(name).compress_size
    chunks, total = [], 0
    with archive.open(name) as handle:
        while total <= limits.max_file_bytes:
            chunk = handle.read(min(CHUNK_BYTES, limits.max_file_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            bomb = running_bomb(total, packed, limits)
            if bomb:
                return b"", bomb
    return b"".join(chunks), None


def _read_tar(path: Path, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    """A tar is one stream: a broken member ends it, and members after it get one error each."""
    wanted = {entry.locator: entry for entry in entries}
    done: set[str] = set()
    broken: str | None = None
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if len(done) == len(wanted):
                    break  # never decompress past the last wanted member (a bomb may follow)
                entry = wanted.get(member.name)
                if entry is None or not member.isreg():
                    continue
                done.add(member.name)
                try:
                    handle = archive.extractfile(member)
                    content = handle.read(limits.max_file_bytes + 1) if handle else b""
                except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
                    broken = f"{type(err).__name__}: {err}"
                    yield FileRecord(entry.path, error_kind=E.CORRUPT_MEMBER, error_message=broken)
                    break
                yield _checked(entry, content, limits)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        broken = f"{type(err).__name__}: {err}"
    for locator, entry in wanted.items():
        if locator in done:
            continue
        if broken:
            yield FileRecord(entry.path, error_kind=E.CORRUPT_MEMBER,
                             error_message=f"archive stream breaks before this member ({broken})")
        else:
            yield FileRecord(entry.path, error_kind=E.UNREADABLE, error_message="member vanished from archive")


def _checked(entry: Entry, content: bytes, limits: Limits) -> FileRecord:
    if len(content) > limits.max_file_bytes:
        return FileRecord(entry.path, error_kind=E.TOO_LARGE, error_message="member larger than declared")
    return FileRecord(entry.path, content)
