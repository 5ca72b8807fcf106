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
from data_platform.ingest.sources import git as git_source
from data_platform.ingest.sources.base import Entry, FileRecord, Limits, Listing, SourceInfo, stable_id


def _name_from_url(url: str) -> str:
    tail = url.rstrip("/").split("/")[-2:]
    name = "/".join(part for part in tail if part)
    return name[:-4] if name.endswith(".git") else name


def fetch(url: str, ref: str, cache_dir: Path) -> tuple[Path, str]:
    """Fetch ``ref`` of ``url`` into the cache; returns the clone and the fetched commit."""
    clone = cache_dir / (hashlib.sha1(url.encode()).hexdigest()[:16] + ".git")
    if not (clone / "HEAD").exists():
        clone.mkdir(parents=True, exist_ok=True)
        git_source.git(clone, "init", "--bare", "--quiet")
        git_source.git(clone, "remote", "add", "origin", url)
        git_source.git(clone, "config", "remote.origin.promisor", "true")
        git_source.git(clone, "config", "remote.origin.partialclonefilter", "blob:none")
    proc = subprocess.run(
        ["git", "-C", str(clone), "fetch", "--quiet", "--depth", "1", "--filter=blob:none", "--no-tags",
         "origin", ref],
        capture_output=True, env=git_source._ENV, timeout=900,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise E.SourceError(E.UNREACHABLE, f"cannot fetch {url} {ref}: {detail[-1] if detail else proc.returncode}")
    commit = git_source.git(clone, "rev-parse", "FETCH_HEAD^{commit}").decode().strip()
    return clone, commit


def list_source(spec: str, url: str, ref: str, cache_dir: Path, limits: Limits) -> Listing:
    clone, commit = fetch(url, ref, cache_dir)
    date = git_source.git(clone, "show", "-s", "--format=%cI", commit).decode().strip() or None
    info = SourceInfo(spec, "remote_git", str(clone), stable_id(url), url, _name_from_url(url), commit, ref, date)
    # Sizes would make git fetch every blob at listing time; executors check sizes instead.
    return git_source.list_tree(info, limits, with_sizes=False)


def prefetch_blobs(clone: str, commit: str, blob_ids: list[str]) -> None:
    """Fetch a task's missing blobs in one request instead of one lazy fetch per blob.

    This is the request git's own partial-clone machinery makes, batched. Failure is not an
    error: ``cat-file`` then falls back to fetching lazily, blob by blob.
    """
    # rev-list --missing=print names absent objects without fetching them (cat-file would fetch).
    listed = git_source.git(clone, "rev-list", "--objects", "--missing=print", commit, check=False).decode()
    absent = {line[1:].strip() for line in listed.splitlines() if line.startswith("?")}
    missing = [blob for blob in blob_ids if blob in absent]
    if not missing:
        return
    subprocess.run(
        ["git", "-C", clone, "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags",
         "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin", "origin"],
        input=("\n".join(missing) + "\n").encode(), capture_output=True, env=git_source._ENV, timeout=900,
    )


def read_entries(info: SourceInfo, entries: list[Entry], limits: Limits) -> Iterator[FileRecord]:
    prefetch_blobs(info.location, info.commit_sha, [entry.locator for entry in entries])
    return git_source.read_entries(info, entries, limits)
