"""Stack Exchange dumps: streamed threads, filters, malformed rows, entities, attribution and licences."""

from __future__ import annotations

from data_platform.ingest.qa_posts import QaFilters, Thread, license_for, split_tags
from data_platform.ingest.qa_threads import render_thread, tag_languages, thread_row
from data_platform.ingest.sources import stackexchange
from data_platform.ingest.sources.base import Limits
from tests.fixtures.stackexchange import write_dump

LIMITS = Limits(1_000_000, 10_000_000, 100.0)


def _read(folder, filters: QaFilters | None = None):
    filters = filters or QaFilters()
    listing = stackexchange.list_source(f"stackexchange:{folder}", folder, LIMITS, folder / "cache")
    stackexchange.with_filters(listing, filters)
    return listing, list(stackexchange.read_entries(listing.info, listing.entries, LIMITS))


def test_threads_stream_out_with_accepted_and_top_answers_and_bad_rows_are_errors(tmp_path):
    listing, records = _read(write_dump(tmp_path / "stackoverflow.com"))
    assert (listing.info.kind, listing.info.repo_name, len(listing.entries)) == ("stackexchange", "stackoverflow.com", 1)
    good = {r.path: r for r in records if r.content is not None}
    errors = sorted((r.path, r.error_kind) for r in records if r.content is None)
    assert sorted(good) == ["questions/1", "questions/5"]  # 8: broken score, 9: below min_score 0
    assert errors == [("Posts.xml#row Id=7", "bad_row"), ("Posts.xml#row Id=8", "bad_row")]
    thread = Thread.from_json(good["questions/1"].content.decode())
    assert (thread.accepted.post_id, [a.post_id for a in thread.answers]) == (3, [2])  # Id 4 scores below 0
    assert (thread.question.author, thread.accepted.author, thread.site) == ("Asker", "Guru", "stackoverflow.com")
    assert good["questions/1"].license_spdx == "CC-BY-SA-2.5" and good["questions/5"].license_spdx == "CC-BY-SA-4.0"


def test_filters_by_score_acceptance_and_tags(tmp_path):
    folder = write_dump(tmp_path / "stackoverflow.com")
    assert [r.path for r in _read(folder, QaFilters(accepted_only=True))[1] if r.content] == ["questions/1"]
    assert [r.path for r in _read(folder, QaFilters(tags=("java",)))[1] if r.content] == ["questions/5"]
    assert [r.path for r in _read(folder, QaFilters(min_score=10))[1] if r.content] == ["questions/1"]
    relaxed = _read(folder, QaFilters(min_score=-10))[1]
    thread = Thread.from_json(next(r for r in relaxed if r.path == "questions/1").content.decode())
    assert [a.post_id for a in thread.answers] == [2, 4]


def test_rendered_thread_decodes_entities_and_attributes_authors_and_licence(tmp_path):
    _listing, records = _read(write_dump(tmp_path / "stackoverflow.com"))
    thread = Thread.from_json(next(r for r in records if r.path == "questions/1").content.decode())
    text = render_thread(thread, "stackoverflow.com")
    assert text.startswith("# How do I reverse a list in Python?\n\nTags: python, list\n\n"
                           "I have xs = [1, 2] & want it reversed <in place>.\n")
    assert "## Accepted answer (score 30)\n\nCall reverse:\n\n```python\nxs.reverse()\nprint(xs)  # [2, 1]\n```" in text
    assert text.index("Accepted answer") < text.index("## Answer (score 5)")
    assert text.rstrip().endswith("Source: https://stackoverflow.com/q/1 by Asker, Guru, Helper, CC-BY-SA-2.5")
    row = thread_row(thread, "stackoverflow.com", str.upper)
    assert row["languages"] == ["python"] and row["code_blocks"] == ["XS.REVERSE()\nPRINT(XS)  # [2, 1]\n",
                                                                     "YS = XS[::-1]\n"]
    assert (row["url"], row["authors"], row["answer_scores"]) == ("https://stackoverflow.com/q/1",
                                                                  ["Asker", "Guru", "Helper"], [5])


def test_tags_licences_and_languages():
    assert split_tags("<python><list>") == ["python", "list"] and split_tags("|java|io|") == ["java", "io"]
    assert [license_for(d) for d in ("2009-01-01", "2011-04-08T00:00", "2018-05-01", "2018-05-02", None)] == [
        "CC-BY-SA-2.5", "CC-BY-SA-3.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC-BY-SA-4.0"]
    assert tag_languages(["c#", "python-3.x", "list", "python"]) == ["csharp", "python"]


def test_a_truncated_dump_is_one_error_not_a_crash(tmp_path):
    folder = write_dump(tmp_path / "site")
    posts = folder / "Posts.xml"
    posts.write_text(posts.read_text()[:-40])
    _listing, records = _read(folder)
    assert [(r.path, r.error_kind) for r in records if r.content is None][-1] == ("Posts.xml", "unreadable")


def test_curating_a_thread_renders_it_and_returns_its_qa_threads_row(tmp_path):
    from data_platform.ingest.curate import curate_file

    _listing, records = _read(write_dump(tmp_path / "stackoverflow.com"))
    record = next(r for r in records if r.path == "questions/1")
    curated = curate_file("r", "/dumps/so", "c", record.path, record.content, "b", record.license_spdx,
                          document_kind="qa")
    silver, row = curated.silver, curated.qa_thread
    assert (silver["source_kind"], silver["language"], silver["license_spdx"]) == ("qa", "python", "CC-BY-SA-2.5")
    assert silver["license_class"] == "attributed"
    assert silver["text"].startswith("# How do I reverse a list in Python?") and silver["parse_ok"] is None
    assert row["thread_id"] == silver["file_id"] and row["created_at"].isoformat() == "2010-05-01T10:00:00+00:00"
    assert (row["question_id"], row["site"], row["license_spdx"]) == (1, "stackoverflow.com", "CC-BY-SA-2.5")
    damaged = curate_file("r", "/dumps/so", "c", "questions/9", b"{", "b", None, document_kind="qa")
    assert damaged.silver["text"] is None and damaged.errors[0]["kind"] == "bad_row"


def test_cc_by_sa_is_admitted_for_attributed_qa_only():
    from data_platform.filters import filter_reason
    from data_platform.settings.refine import FilterSettings

    row = {"language": "python", "license_class": "attributed", "license_spdx": "CC-BY-SA-4.0",
           "size_bytes": 300, "max_line_length": 1500, "mean_line_length": 300.0, "alnum_fraction": 0.7}
    assert filter_reason({**row, "source_kind": "qa"}, FilterSettings()) is None  # prose thresholds too
    assert filter_reason({**row, "license_class": "non_permissive"}, FilterSettings()) == "license"
    assert filter_reason({**row, "source_kind": "qa"}, FilterSettings(admit_attributed_qa=False)) == "license"


def test_a_7z_dump_without_py7zr_fails_with_what_to_do(tmp_path, monkeypatch):
    import sys

    import pytest

    from data_platform.ingest import errors as E

    monkeypatch.setitem(sys.modules, "py7zr", None)  # as on an install without it: import fails
    archive = tmp_path / "cooking.stackexchange.com.7z"
    archive.write_bytes(b"7z\xbc\xaf\x27\x1c")
    with pytest.raises(E.SourceError, match="py7zr is not installed: pip install py7zr, or extract it"):
        stackexchange.list_source(f"stackexchange:{archive}", archive, LIMITS, tmp_path / "cache")


def test_a_7z_dump_is_read_from_disk_in_blocks_once_per_archive_version(tmp_path):
    """A real .7z made by py7zr: the threads of its Posts.xml come out as from the folder, the
    site is the archive's name, a second listing does not extract again, and reading the
    extracted dump never holds Posts.xml in memory (peak Python allocation well under its size)."""
    import tracemalloc

    import py7zr

    from tests.fixtures.stackexchange import answered_with_code

    # Padding threads make Posts.xml a few MB, so holding it whole would show in the peak.
    padding = [row for n in range(100, 2100, 2) for row in answered_with_code(n, f"Question {n}", "<python>",
                                                                                  f"x_{n} = {n}\n" * 150)]
    folder = write_dump(tmp_path / "dump", padding)
    size = (folder / "Posts.xml").stat().st_size
    assert size > 2_500_000
    archive = tmp_path / "cooking.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        for name in ("Posts.xml", "Users.xml", "Tags.xml"):
            out.write(folder / name, name)
    listing = stackexchange.list_source(f"stackexchange:{archive}", archive, LIMITS, tmp_path / "cache")
    stackexchange.with_filters(listing, QaFilters())
    tracemalloc.start()
    try:
        paths, first = set(), None  # only paths are kept: the threads stream through
        for record in stackexchange.read_entries(listing.info, listing.entries, LIMITS):
            if record.content:
                paths.add(record.path)
                first = first or (Thread.from_json(record.content.decode()) if record.path == "questions/1" else None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size / 2, (peak, size)
    assert listing.info.repo_name == "cooking.stackexchange.com"
    assert {"questions/1", "questions/5", "questions/100", "questions/2098"} <= paths and len(paths) == 2 + 1000
    assert first.site == "cooking.stackexchange.com" and first.accepted.author == "Guru"  # Users.xml came too
    extracted = next((tmp_path / "cache").rglob("Posts.xml"))
    again = stackexchange.list_source(f"stackexchange:{archive}", archive, LIMITS, tmp_path / "cache")
    assert again.info.commit_sha == listing.info.commit_sha and next((tmp_path / "cache").rglob("Posts.xml")) == extracted
    assert stackexchange._archive_site("stackoverflow.com-Posts.7z") == "stackoverflow.com"
