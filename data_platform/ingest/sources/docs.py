"""Documentation trees (``docs:PATH[#license=SPDX]``): a folder or an archive of HTML, Markdown or reST pages.

The tree is listed by the directory or archive reader (same limits, same refusals), keeping
only pages (:data:`doc_pages.PAGE_SUFFIXES`) and the root's license candidates. Reading a page
yields one record per section, not one per file: its path is ``<page>#<anchor>`` and its
bytes are the section as JSON (:class:`DocSection`: heading path, prose, code blocks with
their language, links). Bronze therefore holds sections as extracted; curation renders each
into the training template, redacts it and writes ``silver.doc_sections`` next to
``silver.files`` (``source_kind = 'docs'``), so dedup, decontamination, filters and the gold
split treat sections like any other document.

The license is the tree's LICENSE file at the root, or the one given with the source
(``docs:/usr/share/doc/python3-doc/html#license=PSF-2.0``), which wins when both exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.decode import decode_bytes
from data_platform.ingest.doc_pages import is_page, page_sections
from data_platform.ingest.sources import archive, directory
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo

KIND = "docs"
BAD_PAGE = "bad_page"


def declared_license(option: str | None) -> str | None:
    """The SPDX id of a ``license=SPDX`` source option; None when absent.

    Raises SourceError for any other option: a misspelt option must not pass silently."""
    if not option:
        return None
    name, _, value = option.partition("=")
    if name.strip() != "license" or not value.strip():
        raise E.SourceError(E.UNKNOWN_SOURCE, f"docs source option {option!r}: expected license=SPDX-ID")
    return value.strip()


def list_source(spec: str, path: Path, option: str | None, limits: Limits) -> Listing:
    license_spdx = declared_license(option)
    reader = archive if archive.is_archive(path) else directory
    listing = reader.list_source(spec, path, limits)
    listing.info.kind = KIND
    listing.entries = [entry for entry in listing.entries if is_page(entry.path)]
    listing.declared_license = license_spdx
    return listing


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    reader = archive if archive.is_archive(Path(info.location)) else directory
    for record in reader.read_entries(info, entries, limits):
        if record.content is None:
            yield record
            continue
        yield from page_records(record.path, record.content)


def page_records(page: str, content: bytes) -> Iterator[FileRecord]:
    """One record per section of a page, or one error record for a page that cannot be read."""
    decoded = decode_bytes(content)
    if decoded.text is None:
        yield FileRecord(page, error_kind=decoded.reason or E.UNDECODABLE, error_message="page is not text")
        return
    try:
        sections = page_sections(page, decoded.text)
    except Exception as err:  # a page the parsers choke on costs that page only
        yield FileRecord(page, error_kind=BAD_PAGE, error_message=f"{type(err).__name__}: {err}"[:500])
        return
    for section in sections:
        yield FileRecord(section.path, section.to_json().encode("utf-8"))
