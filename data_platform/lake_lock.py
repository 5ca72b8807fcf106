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
(multi-writer setups are out of scope).

``lake.writer_lock_backend`` picks the mechanism, so a new store is configuration, not code
(docs/decisions/0178): ``file`` (``O_EXCL``, local lakes), ``s3`` (boto3 conditional puts), and
``object_store``: the object_store crate that delta-rs is built on (through ``obstore``), whose
``PutMode::Create`` / ``PutMode::Update`` are atomic on S3, GCS (generation preconditions) and
Azure (``If-None-Match``/``If-Match``) alike. ``auto`` picks ``file`` for a local lake, ``s3``
for ``s3://``/``s3a://`` and ``object_store`` for every other scheme; a scheme object_store does
not know, or a store without atomic create, fails with :class:`WriterLockUnsupported`.
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


class WriterLockUnsupported(RuntimeError):
    """The lake's store offers no atomic create-if-absent, so one writer cannot be enforced there."""


@dataclass
class _Held:
    location: Location
    etag: str | None
    backend: str = "file"


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


# --- any store object_store knows (S3, GCS, Azure, a local folder) ---------------------------

# lake.storage_options / AWS_* names → object_store's S3 keys (the rest of S3's keys pass through
# lower-cased, as do GCS' google_* and Azure's azure_* keys).
_S3_KEYS = {"AWS_ACCESS_KEY_ID": "aws_access_key_id", "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
            "AWS_SESSION_TOKEN": "aws_session_token", "AWS_REGION": "aws_region", "AWS_ENDPOINT_URL": "aws_endpoint"}
# Keys that are not object_store store settings: delta-rs' own, aliases effective_options folds.
_NOT_STORE_KEYS = {"AWS_S3_ALLOW_UNSAFE_RENAME", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_ALLOW_HTTP",
                   "AZURE_ALLOW_HTTP", "ALLOW_HTTP"}


def object_store_settings(root: Location) -> tuple[str, dict[str, str], dict[str, object]]:
    """(URL, store config, client options) that reach ``root`` through object_store."""
    if isinstance(root, Path):
        return root.as_uri(), {}, {}
    options = effective_options(root)
    config: dict[str, str] = {}
    for key, value in options.items():
        if key.upper() in _NOT_STORE_KEYS:
            continue
        if root.scheme in ("s3", "s3a"):
            config[_S3_KEYS.get(key.upper(), key.lower())] = value
        elif not key.upper().startswith("AWS_"):  # the AWS_* environment is not a GCS/Azure setting
            config[key.lower()] = value
    endpoint = options.get("AWS_ENDPOINT_URL", "") if root.scheme in ("s3", "s3a") else ""
    allow_http = endpoint.startswith("http://") or any(
        options.get(key, "").lower() == "true" for key in ("AWS_ALLOW_HTTP", "AZURE_ALLOW_HTTP", "ALLOW_HTTP"))
    url = "s3://" + root.uri.split("://", 1)[1] if root.scheme == "s3a" else root.uri
    return url, config, ({"allow_http": True} if allow_http else {})


def _object_store(root: Location):
    from obstore.store import from_url

    url, config, client = object_store_settings(root)
    try:
        if isinstance(root, Path):  # a local lake through object_store (what tests the generic path offline)
            root.mkdir(parents=True, exist_ok=True)
            return from_url(url)
        store = from_url(url, config=config or None, client_options=client or None)
    except Exception as err:  # an unknown scheme or setting: obstore's errors carry no common type
        raise WriterLockUnsupported(
            f"no writer lock for {url}: object_store cannot open it ({str(err).splitlines()[0]}). Set "
            "lake.writer_lock=off if only one process writes this lake at a time (docs/decisions/0178)") from None
    return store


def _unsupported(root: Location, what: str, hint: str = "") -> WriterLockUnsupported:
    return WriterLockUnsupported(
        f"the store of lake {root} cannot {what} atomically, so one writer per lake cannot be enforced there. "
        f"{hint}Set lake.writer_lock=off if only one process writes this lake at a time, or use a store with "
        "conditional writes (S3, GCS, Azure; docs/decisions/0178)")


def _acquire_object_store(root: Location, job: str, lease_s: int) -> str | None:
    import obstore
    from obstore.exceptions import AlreadyExistsError, PreconditionError

    store, body = _object_store(root), json.dumps(_record(job, lease_s)).encode()
    try:
        return obstore.put(store, LOCK_NAME, body, mode="create")["e_tag"]
    except AlreadyExistsError:
        pass
    except NotImplementedError:
        raise _unsupported(root, "create an object only if it is absent") from None
    current = obstore.get(store, LOCK_NAME)
    holder = json.loads(current.bytes().to_bytes() or b"{}")
    if holder.get("expires_at", 0) > time.time():
        raise WriterLockHeld(_held_message(root, holder))
    # S3 and Azure compare the ETag, GCS the object's generation (its "version").
    seen = {key: value for key in ("e_tag", "version") if (value := current.meta.get(key)) is not None}
    try:  # stale: replace exactly the version we read, or lose to whoever replaced it first
        return obstore.put(store, LOCK_NAME, body, mode=seen)["e_tag"]
    except PreconditionError:
        raise WriterLockHeld(_held_message(root, holder)) from None
    except NotImplementedError:  # e.g. a local folder through object_store: no compare-and-swap
        raise _unsupported(root, "replace a stale lock",
                           f"Delete {lock_location(root)} by hand if its writer is gone. ") from None


def _release_object_store(root: Location, etag: str | None) -> None:
    import obstore

    store = _object_store(root)
    try:
        if obstore.head(store, LOCK_NAME)["e_tag"] == etag:
            obstore.delete(store, LOCK_NAME)
    except FileNotFoundError:
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


def backend(lake) -> str:
    """The lock mechanism for a lake: lake.writer_lock_backend, or by the root's scheme for ``auto``."""
    chosen = getattr(lake, "writer_lock_backend", "auto")
    remote = isinstance(lake.root, LakeURI)
    if chosen == "auto":
        if not remote:
            return "file"
        return "s3" if lake.root.scheme in ("s3", "s3a") else "object_store"
    if chosen == "file" and remote or chosen == "s3" and not (remote and lake.root.scheme in ("s3", "s3a")):
        raise WriterLockUnsupported(f"lake.writer_lock_backend={chosen} cannot lock lake {lake.root}: use auto or "
                                    "object_store")
    return chosen


def _acquire(lake, job: str) -> tuple[str, str | None]:
    mechanism = backend(lake)
    if mechanism == "s3":
        return mechanism, _acquire_s3(lake.root, job, lake.writer_lease_s)
    if mechanism == "object_store":
        return mechanism, _acquire_object_store(lake.root, job, lake.writer_lease_s)
    _acquire_local(lake.root, job, lake.writer_lease_s)
    return mechanism, None


def hold(config, job: str = "codemill") -> None:
    """Take the lake's writer lock for this process (once; released when the process exits).

    Raises WriterLockHeld when another process holds it, WriterLockUnsupported when the lake's
    store cannot create an object atomically. No-op when the lock is off for this lake.
    """
    lake = config.lake
    if not enabled(lake):
        return
    key = str(lake.root)
    with _GUARD:
        if key in _HELD:
            return
        mechanism, etag = _acquire(lake, job)
        _HELD[key] = _Held(lake.root, etag, mechanism)
    if len(_HELD) == 1:
        atexit.register(release_all)


def release(root: Location) -> None:
    """Give the lock of one lake back (the process stops being its writer)."""
    with _GUARD:
        held = _HELD.pop(str(root), None)
    if held is None:
        return
    if held.backend == "s3":
        _release_s3(held.location, held.etag)
    elif held.backend == "object_store":
        _release_object_store(held.location, held.etag)
    else:
        _release_local(held.location)


def release_all() -> None:
    for held in list(_HELD.values()):
        release(held.location)
