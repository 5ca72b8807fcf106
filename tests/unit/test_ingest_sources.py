"""Source readers: listing on the driver, reading on executors, each bad input an error."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_platform.ingest import errors as E
from data_platform.ingest.crawl import crawl_task
from data_platform.ingest.sources import Limits, list_source, read_entries, source_kind, split_spec
from data_platform.ingest.sources.base import git_blob_sha, safe_relative_path
from data_platform.ingest.task_plan import plan_tasks
from tests.fixtures.ingest import (
    PNG_BYTES,
    bare_license_free_repo,
    code_repo,
    commit_all,
    git,
    init_repo,
    zip_bomb_archive,
    zip_slip_archive,
)

LIMITS = Limits(max_file_bytes=50_000, archive_max_total_bytes=10_000_000, archive_max_ratio=100.0)


def _read_all(listing) -> dict[str, bytes | str]:
    return {r.path: (r.content if r.content is not None else r.error_kind)
            for r in read_entries(listing.info, listing.entries, LIMITS)}


def _errors(listing) -> dict[str, str]:
    return {e.path: e.kind for e in listing.errors}


def test_git_source_reads_committed_files_not_the_working_tree(tmp_path):
    repo = code_repo(tmp_path / "code")
    (repo / "untracked.py").write_text("x = 1\n")
    (repo / "README.md").write_text("edited but not committed\n")
    listing = list_source(str(repo), LIMITS)
    info = listing.info
    assert info.kind == "git" and info.commit_sha == git(repo, "rev-parse", "HEAD") and info.ref == "HEAD"
    assert info.commit_date.startswith("2024-01-02T03:04:05")
    paths = {e.path for e in listing.entries}
    assert {"src/pkg/__init__.py", ".github/workflows/ci.yml", ".gitignore", "src/pkg/empty.py",
            "assets/logo.png", "vendor/left-pad/index.js"} <= paths
    assert "untracked.py" not in paths
    assert _errors(listing) == {"passwd-link": E.SYMLINK, "data/huge.txt": E.TOO_LARGE}
    content = _read_all(listing)
    assert content["README.md"] == b"# Fixture\n\nA repository for tests.\n"
    assert content["src/pkg/empty.py"] == b"" and content["assets/logo.png"] == PNG_BYTES
    assert "LICENSE" in listing.license_files and "README.md" in listing.license_files
    # git's own blob ids: the same bytes crawled from a directory get the same id
    blob = next(e for e in listing.entries if e.path == "README.md").blob_sha
    assert blob == git_blob_sha(b"# Fixture\n\nA repository for tests.\n")


def test_git_ref_and_bare_repository(tmp_path):
    repo = init_repo(tmp_path / "r", {"a.py": "v = 1\n"})
    first = git(repo, "rev-parse", "HEAD")
    (repo / "a.py").write_text("v = 2\n")
    commit_all(repo, "second")
    old = list_source(f"{repo}#{first}", LIMITS)
    assert old.info.commit_sha == first and _read_all(old) == {"a.py": b"v = 1\n"}
    bare = list_source(str(bare_license_free_repo(tmp_path / "b.git")), LIMITS)
    assert bare.info.kind == "git" and bare.info.repo_name == "b" and set(_read_all(bare)) == {"lib/tool.rb"}


def test_corrupt_and_missing_sources_raise_source_errors(tmp_path):
    with pytest.raises(E.SourceError) as missing:
        list_source(str(tmp_path / "nope"), LIMITS)
    assert missing.value.kind == E.MISSING_PATH
    fake = tmp_path / "fake"
    (fake / ".git").mkdir(parents=True)
    (fake / ".git" / "HEAD").write_text("garbage\n")
    with pytest.raises(E.SourceError) as corrupt:
        list_source(str(fake), LIMITS)
    assert corrupt.value.kind == E.CORRUPT_GIT
    with pytest.raises(E.SourceError) as unreachable:
        list_source(f"file://{tmp_path}/no-such-remote.git", LIMITS, cache_dir=tmp_path / "cache")
    assert unreachable.value.kind == E.UNREACHABLE


def test_blob_missing_at_read_time_is_a_missing_object_file(tmp_path):
    repo = init_repo(tmp_path / "r", {"a.py": "x = 1\n", "b.py": "y = 2\n"})
    listing = list_source(str(repo), LIMITS)
    blob = next(e for e in listing.entries if e.path == "b.py").blob_sha
    os.remove(repo / ".git" / "objects" / blob[:2] / blob[2:])
    assert _read_all(listing) == {"a.py": b"x = 1\n", "b.py": E.MISSING_OBJECT}


def test_remote_git_over_file_url_is_cloned_into_the_cache(tmp_path):
    repo = init_repo(tmp_path / "upstream", {"src/m.go": "package m\n", "LICENSE": "SPDX-License-Identifier: MIT\n"})
    cache = tmp_path / "cache"
    listing = list_source(f"file://{repo}", LIMITS, cache_dir=cache)
    assert listing.info.kind == "remote_git" and listing.info.commit_sha == git(repo, "rev-parse", "HEAD")
    assert listing.info.location.startswith(str(cache))
    assert _read_all(listing) == {"src/m.go": b"package m\n", "LICENSE": b"SPDX-License-Identifier: MIT\n"}
    assert listing.license_files == {"LICENSE": "SPDX-License-Identifier: MIT\n"}


def test_directory_source_lists_dotfiles_empty_files_and_refuses_links(tmp_path):
    root = tmp_path / "dir"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / ".env.example").write_text("A=1\n")
    (root / "big.bin").write_bytes(b"x" * 60_000)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"not crawled")
    os.symlink("/etc/hostname", root / "escape")
    os.symlink("pkg/__init__.py", root / "inside")
    listing = list_source(str(root), LIMITS)
    assert source_kind(str(root)) == "directory"
    assert {e.path for e in listing.entries} == {"pkg/__init__.py", ".env.example"}
    errors = {e.path: (e.kind, e.message) for e in listing.errors}
    assert errors["big.bin"][0] == E.TOO_LARGE
    assert errors["escape"][0] == E.SYMLINK and "outside the root" in errors["escape"][1]
    assert errors["inside"][0] == E.SYMLINK and "inside the root" in errors["inside"][1]
    assert _read_all(listing) == {"pkg/__init__.py": b"", ".env.example": b"A=1\n"}
    again = list_source(str(root), LIMITS)
    assert again.info.commit_sha == listing.info.commit_sha  # listing hash is stable


def test_zip_slip_entries_and_bombs_are_refused(tmp_path):
    listing = list_source(str(zip_slip_archive(tmp_path / "slip.zip")), LIMITS)
    assert listing.info.kind == "archive"
    assert _errors(listing) == {"../../evil.py": E.PATH_ESCAPE, "/abs/evil2.py": E.PATH_ESCAPE}
    assert _read_all(listing) == {"pkg/ok.py": b"def ok():\n    return 1\n"}
    bomb = list_source(str(zip_bomb_archive(tmp_path / "bomb.zip")), LIMITS)  # the bomb member costs itself
    assert _errors(bomb) == {"zeros.txt": E.ARCHIVE_BOMB} and bomb.entries == []
    corrupt = tmp_path / "broken.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(E.SourceError) as broken:
        list_source(str(corrupt), LIMITS)
    assert broken.value.kind == E.CORRUPT_ARCHIVE


def test_tar_archive_links_and_escapes(tmp_path):
    path = tmp_path / "src.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in {"proj/a.py": b"a = 1\n", "../up.py": b"x\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("proj/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    listing = list_source(str(path), LIMITS)
    assert listing.info.repo_name == "src"
    assert _errors(listing) == {"../up.py": E.PATH_ESCAPE, "proj/link": E.SYMLINK}
    assert _read_all(listing) == {"proj/a.py": b"a = 1\n"}
    assert [t.files for t in plan_tasks([listing], 1, 4)] == [1]  # one tar stream, one task


def test_jsonl_and_parquet_datasets_with_malformed_rows(tmp_path):
    rows = [
        {"max_stars_repo_name": "octo/hello", "max_stars_repo_path": "hello.py", "content": "print(1)\n",
         "max_stars_count": 7, "max_stars_repo_licenses": ["MIT"]},
        {"max_stars_repo_name": "octo/hello", "max_stars_repo_path": "no_content.py"},
    ]
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    listing = list_source(str(jsonl), LIMITS)
    assert listing.info.kind == "dataset" and listing.per_row_repos
    records = list(read_entries(listing.info, listing.entries, LIMITS))
    good = [r for r in records if r.error_kind is None]
    assert [(r.path, r.content, r.repo_name, r.stars, r.license_spdx) for r in good] == [
        ("hello.py", b"print(1)\n", "octo/hello", 7, "MIT")]
    assert sorted(r.error_kind for r in records if r.error_kind) == [E.BAD_ROW, E.BAD_ROW]
    crawled = list(crawl_task(listing.info, listing.entries, LIMITS))
    assert crawled[0]["repo_url"] == "https://github.com/octo/hello" and crawled[0]["blob_sha"] == git_blob_sha(
        b"print(1)\n")
    parquet_dir = tmp_path / "stack"
    parquet_dir.mkdir()
    pq.write_table(pa.table({"repo_name": ["a/b", "a/b"], "path": ["x.js", "y.js"], "content": ["1;", None]}),
                   parquet_dir / "part-0.parquet", row_group_size=1)
    pq.write_table(pa.table({"other": [1]}), parquet_dir / "part-1.parquet")
    stack = list_source(f"dataset:{parquet_dir}", LIMITS)
    assert len(stack.entries) == 2 and [e.kind for e in stack.errors] == [E.BAD_DATASET]
    records = list(read_entries(stack.info, stack.entries, LIMITS))
    assert [(r.path, r.error_kind) for r in records] == [("x.js", None), ("part-0.parquet:group1:row0", E.BAD_ROW)]


def test_spec_parsing_and_safe_paths():
    assert split_spec("git:/r#v1") == ("git", "/r", "v1")
    assert split_spec("https://h/x.git#main") == (None, "https://h/x.git", "main")
    assert source_kind("git@github.com:o/r.git") == "remote_git"
    assert source_kind("/tmp/x.tar.gz") == "archive" and source_kind("/tmp/x.parquet") == "dataset"
    assert safe_relative_path("a/./b/../c.py") == "a/c.py"
    assert safe_relative_path("../x") is None and safe_relative_path("/etc/x") is None
    assert safe_relative_path("a/../../x") is None and safe_relative_path("C:\\x") is None


def test_plan_tasks_spreads_files_over_at_least_min_tasks(tmp_path):
    repo = init_repo(tmp_path / "r", {f"f{i}.py": f"x = {i}\n" for i in range(10)})
    listing = list_source(str(repo), LIMITS)
    tasks = plan_tasks([listing], files_per_task=400, min_tasks=4)
    assert len(tasks) == 4 and all(t.files >= 2 for t in tasks)
    assert sorted(e.path for t in tasks for s in t.slices for e in s.entries) == sorted(e.path for e in listing.entries)
    assert len(plan_tasks([listing], files_per_task=4, min_tasks=1)) == 3


def test_unreadable_file_is_an_error_not_a_crash(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / "a.py").write_text("x\n")
    listing = list_source(str(root), LIMITS)
    Path(root / "a.py").unlink()  # vanished between listing and reading
    assert _read_all(listing) == {"a.py": E.UNREADABLE}


def test_remote_clone_is_blob_filtered_and_reads_fetch_blobs_in_one_batch(tmp_path):
    repo = init_repo(tmp_path / "upstream", {f"f{i}.txt": f"x{i}\n" for i in range(3)})
    git(repo, "config", "uploadpack.allowFilter", "true")  # what hosting services enable
    git(repo, "config", "uploadpack.allowAnySHA1InWant", "true")
    listing = list_source(f"file://{repo}", LIMITS, cache_dir=tmp_path / "cache")
    clone = listing.info.location

    def missing() -> int:
        listed = git(Path(clone), "rev-list", "--objects", "--missing=print", listing.info.commit_sha)
        return sum(line.startswith("?") for line in listed.splitlines())

    assert missing() == 3  # the listing fetched trees only
    assert _read_all(listing) == {f"f{i}.txt": f"x{i}\n".encode() for i in range(3)}
    assert missing() == 0
