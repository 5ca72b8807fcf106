"""Inputs that are options or credentials: refs checked, URL user info used but never kept."""

from __future__ import annotations

import subprocess

import pytest

from data_platform.ingest import errors as E
from data_platform.ingest.credentials import redact_credentials, split_userinfo
from data_platform.ingest.refs import check_column_name, check_ref
from data_platform.ingest.sources import Limits, list_source, public_source, read_entries
from tests.fixtures.git_http import git_http_server
from tests.fixtures.ingest import git, init_repo

LIMITS = Limits(max_file_bytes=50_000, archive_max_total_bytes=10_000_000, archive_max_ratio=100.0)
TOKEN = "ghp_S3cr3tT0kenValue0000000000000000000"


@pytest.mark.parametrize("ref", ["main", "v1.2.3", "refs/tags/v1", "HEAD~2", "feature/x-y", "a" * 40, "HEAD@{0}"])
def test_plain_refs_pass(ref):
    assert check_ref(ref) == ref


@pytest.mark.parametrize(
    "ref", ["--upload-pack=touch /tmp/pwned", "-n", "", "main:refs/heads/evil", "a b", "x..y", "ref\nnext", "a" * 300]
)
def test_refs_that_are_options_or_refspecs_are_refused(ref):
    with pytest.raises(E.SourceError) as err:
        check_ref(ref)
    assert err.value.kind == E.UNKNOWN_SOURCE


def test_option_shaped_ref_never_reaches_git(tmp_path):
    repo = init_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    marker = tmp_path / "pwned"
    for spec in (f"{repo}#--output={marker}", f"file://{repo}#--upload-pack=touch {marker}"):
        with pytest.raises(E.SourceError, match="starts with '-'"):
            list_source(spec, LIMITS, cache_dir=tmp_path / "cache")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["content", "repo_name", "_x1"])
def test_column_names_pass(name):
    assert check_column_name(name, "ingest.dataset_text_column") == name


@pytest.mark.parametrize("name", ["content; DROP TABLE x", "a-b", "1abc", "", "`x`"])
def test_column_names_that_are_not_identifiers_are_refused(name):
    with pytest.raises(ValueError, match="column name"):
        check_column_name(name, "ingest.dataset_text_column")


@pytest.mark.parametrize(
    ("url", "public"),
    [
        (f"https://octo:{TOKEN}@github.com/o/r.git", "https://github.com/o/r.git"),
        (f"https://{TOKEN}@github.com/o/r.git", "https://github.com/o/r.git"),
        ("ssh://git:hunter2@host/r.git", "ssh://git@host/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/repos/r.git", "/srv/repos/r.git"),
    ],
)
def test_user_info_is_stripped(url, public):
    assert split_userinfo(url)[0] == public
    assert public_source(url + "#main") == public + "#main"
    assert TOKEN not in redact_credentials(f"fatal: could not read {url}: 403")


def test_private_repository_over_http_is_fetched_with_credentials_that_are_stored_nowhere(tmp_path):
    root = tmp_path / "served"
    upstream = init_repo(tmp_path / "upstream", {"src/app.py": "def main():\n    return 0\n"})
    subprocess.run(["git", "clone", "--quiet", "--bare", str(upstream), str(root / "app.git")], check=True)
    cache = tmp_path / "cache"
    with git_http_server(root, "octo", TOKEN) as (base, seen):
        # without credentials the server refuses: the fetch really depends on them
        with pytest.raises(E.SourceError) as refused:
            list_source(f"{base}/app.git", LIMITS, cache_dir=tmp_path / "cache-anonymous")
        assert refused.value.kind == E.UNREACHABLE
        spec = public_source(f"{base.replace('http://', f'http://octo:{TOKEN}@')}/app.git#HEAD")
        assert TOKEN not in spec
        listing = list_source(spec, LIMITS, cache_dir=cache)
        assert any(auth.startswith("Basic ") for auth in seen)
    # read after the server is gone: the credentialed fetch brought every blob along
    files = {r.path: r.content for r in read_entries(listing.info, listing.entries, LIMITS)}
    assert files == {"src/app.py": b"def main():\n    return 0\n"}
    assert listing.info.commit_sha == git(upstream, "rev-parse", "HEAD")
    stored = [listing.info.to_json(), *(p.read_bytes().decode("latin-1") for p in cache.rglob("*") if p.is_file())]
    assert listing.info.repo_url == f"{base}/app.git"
    assert not [text for text in stored if TOKEN in text]


def _tar_with_bomb(path, bomb_bytes: int):
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("a/first.py", b"x = 1\n"), ("a/second.py", b"y = 2\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("a/zeros.bin")
        info.size = bomb_bytes

        class Zeros(io.RawIOBase):  # streams the bomb's bytes without holding them
            left = bomb_bytes

            def readable(self):
                return True

            def readinto(self, buffer):
                n = min(len(buffer), self.left)
                buffer[:n] = bytes(n)
                self.left -= n
                return n

        archive.addfile(info, io.BufferedReader(Zeros()))
        after = tarfile.TarInfo("a/after.py")
        after.size = 6
        archive.addfile(after, io.BytesIO(b"z = 3\n"))
    return path


def test_tar_bomb_is_stopped_while_it_expands_and_members_before_it_are_kept(tmp_path):
    archive = _tar_with_bomb(tmp_path / "bomb.tar.gz", 400_000_000)  # 400 MB of zeros, ~400 kB packed
    listing = list_source(str(archive), LIMITS)
    bombs = [e for e in listing.errors if e.kind == E.ARCHIVE_BOMB]
    assert len(bombs) == 1 and bombs[0].path == "a/zeros.bin"
    decompressed = int(bombs[0].message.split("in this member: ")[1].split()[0])
    assert decompressed <= 2 * (1 << 20) + 1_000_000  # stopped within a chunk of the ratio floor, not at 400 MB
    files = {r.path: r.content for r in read_entries(listing.info, listing.entries, LIMITS)}
    assert files == {"a/first.py": b"x = 1\n", "a/second.py": b"y = 2\n"}


def test_zip_member_whose_header_lies_is_stopped_at_the_limit(tmp_path):
    import zipfile

    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ok.py", "x = 1\n")
        archive.writestr("zeros.txt", b"0" * 3_000_000)
    # declare the zeros member tiny in both headers, as a hostile archive would
    data = bytearray(path.read_bytes())
    real = (3_000_000).to_bytes(4, "little")
    data = data.replace(real, (100).to_bytes(4, "little"))
    path.write_bytes(bytes(data))
    limits = Limits(max_file_bytes=10_000_000, archive_max_total_bytes=10_000_000, archive_max_ratio=100.0)
    listing = list_source(str(path), limits)
    records = {r.path: (r.content, r.error_kind) for r in read_entries(listing.info, listing.entries, limits)}
    assert records["ok.py"] == (b"x = 1\n", None)
    assert records["zeros.txt"][1] in (E.ARCHIVE_BOMB, E.CORRUPT_MEMBER)


# ------------------------------------------------------------- codemill submit's command line


@pytest.mark.parametrize(
    "arg, public, removed",
    [
        ("https://octo:tok3n@git.example.com/a.git", "https://git.example.com/a.git",
         {"https://git.example.com/a.git": ["octo", "tok3n"]}),
        ("--source=git:https://tok3n@git.example.com/a.git#v1", "--source=git:https://git.example.com/a.git#v1",
         {"https://git.example.com/a.git": ["tok3n", ""]}),
        ("ssh://git@host/a.git", "ssh://git@host/a.git", {}),  # an account name, not a secret
        ("/srv/repos/plain", "/srv/repos/plain", {}),
    ],
)
def test_submit_arguments_lose_their_credentials(arg, public, removed):
    from data_platform.ingest.credentials import args_without_credentials

    assert args_without_credentials(["--source", arg]) == (["--source", public], removed)


def test_credentials_handed_over_through_the_environment_reach_the_fetch_and_leave_the_environment(tmp_path):
    import json

    from data_platform.ingest.credentials import HANDOVER_ENV, args_without_credentials, remember_handed_over

    root = tmp_path / "served"
    upstream = init_repo(tmp_path / "upstream", {"lib.py": "X = 1\n"})
    subprocess.run(["git", "clone", "--quiet", "--bare", str(upstream), str(root / "lib.git")], check=True)
    with git_http_server(root, "octo", TOKEN) as (base, seen):
        secret_url = f"{base.replace('http://', f'http://octo:{TOKEN}@')}/lib.git"
        (public_arg,), handed = args_without_credentials([secret_url])
        environ = {HANDOVER_ENV: json.dumps(handed), "PATH": "/usr/bin"}
        assert remember_handed_over(environ) == 1
        assert HANDOVER_ENV not in environ
        listing = list_source(public_arg, LIMITS, cache_dir=tmp_path / "cache")
        assert any(auth.startswith("Basic ") for auth in seen)
    assert TOKEN not in public_arg and listing.info.repo_url == public_arg


def test_submit_dry_run_prints_no_token(capsys):
    from codemill.cli.main import main

    try:
        main(["submit", "--dry-run", "jobs/ingest.py", "--", "--source", f"https://octo:{TOKEN}@git.example.com/a.git"])
    except SystemExit as done:
        assert not done.code
    out, err = capsys.readouterr()
    assert "--source https://git.example.com/a.git" in out
    assert TOKEN not in out + err and "CODEMILL_SOURCE_CREDENTIALS" in err
