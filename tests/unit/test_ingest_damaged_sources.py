"""No source dies for one entry: damaged git objects, corrupt archive members, bad dataset rows.

Repositories hold real code (installed packages, see tests/fixtures/repos.py) and are damaged
the way real copies are; each bad entry must become exactly one error and every other file
must still be read, byte for byte.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_platform.ingest import errors as E
from data_platform.ingest.crawl import crawl_task
from data_platform.ingest.sources import Limits, list_source, read_entries
from data_platform.ingest.sources.git import parse_tree_records
from tests.fixtures.ingest import git
from tests.fixtures.repos import (
    blob_path,
    orphaned_partial_clone,
    package_repo,
    package_sources,
    remove_blob,
)

LIMITS = Limits(max_file_bytes=500_000, archive_max_total_bytes=50_000_000, archive_max_ratio=100.0)


def _read(listing) -> dict[str, bytes | str]:
    return {r.path: r.content if r.content is not None else r.error_kind
            for r in read_entries(listing.info, listing.entries, LIMITS)}


def _errors(listing) -> dict[str, str]:
    return {e.path: e.kind for e in listing.errors}


def _committed(repo, rev: str = "HEAD") -> dict[str, bytes]:
    paths = git(repo, "ls-tree", "-r", "--name-only", rev).splitlines()
    return {p: git_bytes(repo, f"{rev}:{p}") for p in paths}


def git_bytes(repo, rev_path: str) -> bytes:
    import subprocess

    return subprocess.run(["git", "-C", str(repo), "cat-file", "blob", rev_path], check=True,
                          capture_output=True).stdout


@pytest.fixture()
def mdurl_repo(tmp_path):
    return package_repo(tmp_path / "mdurl", "mdurl")


def test_a_deleted_loose_blob_costs_its_file_only(mdurl_repo):
    expected = _committed(mdurl_repo)
    remove_blob(mdurl_repo, "src/mdurl/_parse.py")
    listing = list_source(str(mdurl_repo), LIMITS)
    assert _errors(listing) == {"src/mdurl/_parse.py": E.MISSING_OBJECT}
    del expected["src/mdurl/_parse.py"]
    assert _read(listing) == expected
    assert "LICENSE" in listing.license_files


def test_a_corrupt_loose_blob_and_a_missing_tree(mdurl_repo):
    top = {path: data for path, data in _committed(mdurl_repo).items() if "/" not in path}
    corrupt = blob_path(mdurl_repo, "src/mdurl/_encode.py")
    os.chmod(corrupt, 0o644)
    corrupt.write_bytes(b"not zlib data")
    listing = list_source(str(mdurl_repo), LIMITS)
    assert _errors(listing) == {"src/mdurl/_encode.py": E.MISSING_OBJECT}
    assert "src/mdurl/_decode.py" in _read(listing)

    tree = git(mdurl_repo, "rev-parse", "HEAD:src/mdurl")
    os.remove(mdurl_repo / ".git" / "objects" / tree[:2] / tree[2:])
    damaged = list_source(str(mdurl_repo), LIMITS)
    errors = {e.path: (e.kind, e.message) for e in damaged.errors}
    assert errors["src/mdurl/"][0] == E.MISSING_OBJECT and tree in errors["src/mdurl/"][1]
    assert _read(damaged) == top and set(top) == {"LICENSE", "README.md"}
    assert damaged.info.commit_date is not None


def test_a_blob_that_vanishes_after_listing_is_a_missing_object_row(mdurl_repo):
    listing = list_source(str(mdurl_repo), LIMITS)
    remove_blob(mdurl_repo, "src/mdurl/_url.py")
    content = _read(listing)
    assert content["src/mdurl/_url.py"] == E.MISSING_OBJECT
    assert content["src/mdurl/_format.py"] == package_sources("mdurl")["_format.py"].encode()
    rows = list(crawl_task(listing.info, listing.entries, LIMITS))  # what executors hand to Spark
    bad = [row for row in rows if row["error_kind"]]
    assert [(row["path"], row["error_kind"]) for row in bad] == [("src/mdurl/_url.py", E.MISSING_OBJECT)]


def test_partial_clone_whose_remote_is_gone(tmp_path):
    upstream = package_repo(tmp_path / "upstream", "iniconfig")
    changed = {"src/iniconfig/_parse.py": package_sources("iniconfig")["_parse.py"] + "\n# patched upstream\n",
               "src/iniconfig/extra.py": "EXTRA = True\n"}
    clone, ref = orphaned_partial_clone(upstream, tmp_path / "clone", changed)
    listing = list_source(f"{clone}#{ref}", LIMITS)
    assert _errors(listing) == {path: E.MISSING_OBJECT for path in changed}
    content = _read(listing)
    assert content["src/iniconfig/__init__.py"] == package_sources("iniconfig")["__init__.py"].encode()
    assert set(content) == set(_committed(clone, "HEAD")) - set(changed)


def test_partial_clone_with_its_remote_fetches_what_it_lacks(tmp_path):
    upstream = package_repo(tmp_path / "upstream", "termcolor")
    git(upstream, "config", "uploadpack.allowFilter", "true")
    import subprocess

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--bare", "--filter=blob:none", f"file://{upstream}", str(clone)],
                   check=True, capture_output=True)
    listing = list_source(str(clone), LIMITS)  # bare, blob-less: every blob comes from the remote
    assert listing.errors == [] and _read(listing) == _committed(upstream)


def test_remote_source_whose_blob_cannot_be_fetched(tmp_path):
    upstream = package_repo(tmp_path / "upstream", "zipp")
    git(upstream, "config", "uploadpack.allowFilter", "true")
    listing = list_source(f"file://{upstream}", LIMITS, cache_dir=tmp_path / "cache")
    remove_blob(upstream, "src/zipp/glob.py")  # the remote itself is damaged
    content = _read(listing)
    assert content["src/zipp/glob.py"] == E.MISSING_OBJECT
    assert content["src/zipp/__init__.py"] == package_sources("zipp")["__init__.py"].encode()


def test_odd_ls_tree_records_are_reported_not_fatal():
    good = b"100644 blob " + b"a" * 40 + b"\tok.py\0"
    records, odd = parse_tree_records(good + b"garbage-without-tab\0" + b"100644 blob\tshort.py\0")
    assert [r.path for r in records] == ["ok.py"] and len(odd) == 2


def _zip_with_corrupt_member(path, files: dict[str, str], corrupt: str):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(corrupt)
    # Local header (30 bytes + name + extra), then the deflate stream: flip bytes inside it.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 2, start + min(info.compress_size, 40)):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_zip_with_one_corrupt_member(tmp_path):
    files = {f"mdurl/{rel}": text for rel, text in package_sources("mdurl").items()}
    path = tmp_path / "mdurl.zip"
    _zip_with_corrupt_member(path, files, "mdurl/_parse.py")
    listing = list_source(str(path), LIMITS)
    content = _read(listing)
    assert content.pop("mdurl/_parse.py") == E.CORRUPT_MEMBER
    assert content == {name: text.encode() for name, text in files.items() if name != "mdurl/_parse.py"}


def test_truncated_tar_keeps_the_members_before_the_break(tmp_path):
    files = {f"zipp/{rel}": text for rel, text in package_sources("zipp").items()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    raw = gzip.decompress(buffer.getvalue())
    names = list(files)
    # Cut the stream inside the last member's data: every earlier member is whole.
    cut = raw.index(files[names[-1]].encode()[:40]) + 20
    path = tmp_path / "zipp.tar.gz"
    path.write_bytes(gzip.compress(raw[:cut]))
    listing = list_source(str(path), LIMITS)
    content = _read(listing)
    assert content.pop(names[-1]) == E.CORRUPT_MEMBER
    assert content == {name: files[name].encode() for name in names[:-1]}


def test_dataset_bad_rows_and_files_cost_themselves(tmp_path):
    mdurl = package_sources("mdurl")
    good = [{"repo_name": "octo/mdurl", "path": f"mdurl/{rel}", "content": text} for rel, text in mdurl.items()]
    odd = [
        {"repo_name": "octo/mdurl", "path": "num.py", "content": 12345},  # content is not text
        {"repo_name": ["octo"], "path": "list.py", "content": "x = 1\n"},  # repository is not text
        ["not", "an", "object"],
        {"repo_name": "octo/mdurl", "path": "stars.py", "content": "s = 1\n", "stars": float("inf")},
    ]
    folder = tmp_path / "dump"
    folder.mkdir()
    lines = [json.dumps(row) for row in good[:2] + odd] + ["{broken"] + [json.dumps(row) for row in good[2:]]
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n")
    # A gzip cut short: the rows before the cut are kept.
    whole = gzip.compress(("\n".join(json.dumps(row) for row in good) + "\n").encode())
    (folder / "b.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    pq.write_table(pa.table({"repo_name": ["octo/x"], "path": ["x.py"], "content": ["x = 1\n"]}),
                   folder / "c.parquet")
    (folder / "d.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    listing = list_source(f"dataset:{folder}", LIMITS)
    assert {(e.path.rsplit("/", 1)[-1], e.kind) for e in listing.errors} == {("d.parquet", E.BAD_DATASET)}
    records = list(read_entries(listing.info, listing.entries, LIMITS))
    read = [(r.path, r.content) for r in records if r.error_kind is None]
    errors = sorted((r.path, r.error_kind) for r in records if r.error_kind)
    from_a = [(row["path"], row["content"].encode()) for row in good]
    assert read[: len(good) + 1] == from_a[:2] + [("stars.py", b"s = 1\n")] + from_a[2:]
    assert ("x.py", b"x = 1\n") in read
    truncated = [path for path, _ in read[len(good) + 1 :] if path != "x.py"]
    assert 0 < len(truncated) < len(good)  # some rows of the cut file, not all
    assert errors[:5] == [("a.jsonl:line3", E.BAD_ROW), ("a.jsonl:line4", E.BAD_ROW), ("a.jsonl:line5", E.BAD_ROW),
                          ("a.jsonl:line7", E.BAD_ROW), (errors[4][0], E.BAD_DATASET)]
    assert errors[4][0].startswith("b.jsonl.gz:line") and len(errors) == 5
