"""Remote git repositories: a shallow, blob-filtered fetch into a local cache, then read as git.

``--depth 1 --filter=blob:none`` downloads one commit's trees without file contents; blobs
arrive on demand when executors read them (git's partial-clone lazy fetch), so listing a
huge repository stays cheap. The cache is keyed by URL and reused by later runs, which fetch
only what changed. On a cluster the cache directory must be on storage executors share.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from data_platform.ingest import errors as E
from data_platform.ingest.credentials import auth_env, has_credentials, redact_credentials
from data_platform.ingest.refs import check_ref
from data_platform.ingest.sources import git as git_source
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo, stable_id


def _name_from_url(url: str) -> str:
    tail = url.rstrip("/").split("/")[-2:]
    name = "/".join(part for part in tail if part)
    return name[:-4] if name.endswith(".git") else name


def fetch(url: str, ref: str, cache_dir: Path) -> tuple[Path, str]:
    """Fetch ``ref`` of ``url`` into the cache; returns the clone and the fetched commit.

    ``url`` never carries credentials (the run strips them, :mod:`data_platform.ingest.credentials`).
    A URL that had some is fetched whole at depth 1, without the blob filter: executors then
    read blobs locally and never need the credentials, which stay in this process only.
    """
    check_ref(ref)
    credentialed = has_credentials(url)
    clone = cache_dir / (hashlib.sha1(url.encode()).hexdigest()[:16] + ".git")
    if not (clone / "HEAD").exists():
        clone.mkdir(parents=True, exist_ok=True)
        git_source.git(clone, "init", "--bare", "--quiet")
        git_source.git(clone, "remote", "add", "origin", url)
        if not credentialed:
            git_source.git(clone, "config", "remote.origin.promisor", "true")
            git_source.git(clone, "config", "remote.origin.partialclonefilter", "blob:none")
    blob_filter = [] if credentialed else ["--filter=blob:none"]
    proc = subprocess.run(
        ["git", "-C", str(clone), "fetch", "--quiet", "--depth", "1", *blob_filter, "--no-tags",
         "origin", "--end-of-options", ref],
        capture_output=True, env={**git_source._ENV, **auth_env(url)}, timeout=900,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = redact_credentials(detail[-1] if detail else str(proc.returncode))
        raise E.SourceError(E.UNREACHABLE, f"cannot fetch {redact_credentials(url)} {ref}: {reason}")
    commit = git_source.git(clone, "rev-parse", "FETCH_HEAD^{commit}").decode().strip()
    return clone, commit


def list_source(spec: str, url: str, ref: str, cache_dir: Path, limits: Limits) -> Listing:
    clone, commit = fetch(url, ref, cache_dir)
    date = git_source.commit_date(str(clone), commit)
    info = SourceInfo(spec, "remote_git", str(clone), stable_id(url), url, _name_from_url(url), commit, ref, date)
    # Sizes would make git fetch every blob at listing time; executors check sizes instead.
    return git_source.list_tree(info, limits, check_objects=False)


def prefetch_blobs(clone: str, commit: str, blob_ids: list[str]) -> set[str]:
    """Fetch a task's absent blobs in one request instead of one lazy fetch per blob.

    Returns the blobs still absent afterwards (the remote lost them, or is unreachable):
    each becomes a ``missing_object`` error instead of failing the task.
    """
    wanted = set(blob_ids)
    absent = git_source.absent_objects(clone, commit) & wanted
    if absent:
        git_source.fetch_objects(clone, sorted(absent))
        absent = git_source.absent_objects(clone, commit) & wanted
    return absent


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    absent = prefetch_blobs(info.location, info.commit_sha, [entry.locator for entry in entries])
    for entry in entries:
        if entry.locator in absent:
            yield FileRecord(entry.path, error_kind=E.MISSING_OBJECT,
                             error_message=f"blob {entry.locator} could not be fetched from {info.repo_url}")
    yield from git_source.read_entries(info, [e for e in entries if e.locator not in absent], limits)
