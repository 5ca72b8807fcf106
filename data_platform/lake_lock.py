"""One writer per lake: a lock object under ``<lake>/_locks/writer.json``.

Delta's commit protocol needs mutual exclusion on the commit file: a local filesystem gives it
(atomic rename / create-if-absent), S3 did not until conditional writes, and neither Spark's
``S3SingleDriverLogStore`` nor delta-rs without a lock provider coordinate across processes. So
codemill allows one writing process per lake at a time (docs/decisions/0172):

* the first write of a process (a Spark stage, an ``ops.*`` row, a table created or upgraded)
  takes the lock; the process holds it until it exits; readers never take it;
* the lock is created with a conditional put (``If-None-Match: *`` on S3, ``O_EXCL`` locally):
  exactly one of two racing processes gets it, the other fails at once with
  :class:`WriterLockHeld`, naming the holder;
* a lock older than ``lake.writer_lease_s`` is stale (its process died without releasing) and is
  taken over with a put conditional on the stale object's ETag (``If-Match``), so two processes
  taking over the same stale lock cannot both win.

``lake.writer_lock``: ``auto`` (default) locks object-store lakes only, so a local lake behaves as
before; ``on`` locks local lakes too; ``off`` is for setups that coordinate writers themselves
(multi-writer setups are out of scope). ``gs://``/``abfss://`` lakes need ``off`` for now.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from data_platform.storage import LakeURI, Location, effective_options

LOCK_NAME = "_locks/writer.json"


class WriterLockHeld(RuntimeError):
    """Another process is writing this lake."""


@dataclass
class _Held:
    location: Location
    etag: str | None


_HELD: dict[str, _Held] = {}
_GUARD = threading.Lock()


def lock_location(root: Location) -> Location:
    return root / LOCK_NAME


def _record(job: str, lease_s: int) -> dict:
    now = time.time()
    return {"job": job, "host": socket.gethostname(), "pid": os.getpid(), "acquired_at": now,
            "expires_at": now + lease_s}


def _held_message(root: Location, holder: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder.get("acquired_at", 0)))
    until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder.get("expires_at", 0)))
    return (
        f"lake {root} is being written by another process ({holder.get('job', '?')}, pid {holder.get('pid', '?')} "
        f"on {holder.get('host', '?')}, since {since}); one writer per lake at a time. Wait for it to finish, "
        f"or, if that process is gone, delete {lock_location(root)} (it goes stale by itself at {until})."
    )


# --- S3 -------------------------------------------------------------------------------------

def _s3_client(root: LakeURI):
    import boto3

    opts = effective_options(root)
    return boto3.client(
        "s3",
        endpoint_url=opts.get("AWS_ENDPOINT_URL"),
        aws_access_key_id=opts.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=opts.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=opts.get("AWS_SESSION_TOKEN"),
        region_name=opts.get("AWS_REGION") or "us-east-1",
    )


def _precondition_failed(err) -> bool:
    code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
    return code in ("PreconditionFailed", "412", "ConditionalRequestConflict")


def _acquire_s3(root: LakeURI, job: str, lease_s: int) -> str:
    from botocore.exceptions import ClientError

    client, location = _s3_client(root), lock_location(root)
    body = json.dumps(_record(job, lease_s)).encode()
    try:
        return client.put_object(Bucket=location.bucket, Key=location.key, Body=body, IfNoneMatch="*")["ETag"]
    except ClientError as err:
        if not _precondition_failed(err):
            raise
    current = client.get_object(Bucket=location.bucket, Key=location.key)
    holder = json.loads(current["Body"].read() or b"{}")
    if holder.get("expires_at", 0) > time.time():
        raise WriterLockHeld(_held_message(root, holder))
    try:  # stale: replace exactly the object we read, or lose to whoever replaced it first
        return client.put_object(Bucket=location.bucket, Key=location.key, Body=body, IfMatch=current["ETag"])["ETag"]
    except ClientError as err:
        if _precondition_failed(err):
            raise WriterLockHeld(_held_message(root, holder)) from None
        raise


def _release_s3(root: LakeURI, etag: str | None) -> None:
    from botocore.exceptions import ClientError

    client, location = _s3_client(root), lock_location(root)
    try:
        if client.head_object(Bucket=location.bucket, Key=location.key)["ETag"] == etag:
            client.delete_object(Bucket=location.bucket, Key=location.key)
    except ClientError:
        pass  # already gone (deleted by hand, or taken over after going stale)


# --- local ----------------------------------------------------------------------------------

def _acquire_local(root: Path, job: str, lease_s: int) -> None:
    path = Path(lock_location(root))
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text() or "{}")
            except (OSError, ValueError):
                holder = {}
            if holder.get("expires_at", 0) > time.time():
                raise WriterLockHeld(_held_message(root, holder)) from None
            path.unlink(missing_ok=True)  # stale; the retry's O_EXCL decides between takers
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(_record(job, lease_s), handle)
        return
    raise WriterLockHeld(_held_message(root, {}))


def _release_local(root: Path) -> None:
    path = Path(lock_location(root))
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


# --- the process's hold ---------------------------------------------------------------------

def enabled(lake) -> bool:
    return lake.writer_lock == "on" or (lake.writer_lock == "auto" and isinstance(lake.root, LakeURI))


def hold(config, job: str = "codemill") -> None:
    """Take the lake's writer lock for this process (once; released when the process exits).

    Raises WriterLockHeld when another process holds it. No-op when the lock is off for this lake.
    """
    lake = config.lake
    if not enabled(lake):
        return
    key = str(lake.root)
    with _GUARD:
        if key in _HELD:
            return
        if isinstance(lake.root, LakeURI):
            if lake.root.scheme not in ("s3", "s3a"):
                raise WriterLockHeld(f"no writer lock for {lake.root.scheme}:// lakes yet: set lake.writer_lock=off "
                                     "if only one process writes this lake at a time")
            etag = _acquire_s3(lake.root, job, lake.writer_lease_s)
        else:
            _acquire_local(lake.root, job, lake.writer_lease_s)
            etag = None
        _HELD[key] = _Held(lake.root, etag)
    if len(_HELD) == 1:
        atexit.register(release_all)


def release(root: Location) -> None:
    """Give the lock of one lake back (the process stops being its writer)."""
    with _GUARD:
        held = _HELD.pop(str(root), None)
    if held is None:
        return
    if isinstance(held.location, LakeURI):
        _release_s3(held.location, held.etag)
    else:
        _release_local(held.location)


def release_all() -> None:
    for held in list(_HELD.values()):
        release(held.location)
