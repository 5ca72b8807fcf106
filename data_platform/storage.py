"""The storage seam: where the lake lives, and how every engine reaches it.

The lake root is a local path (or ``file://`` URI) or an object-store URI (``s3://bucket/prefix``;
``gs://`` and ``abfss://`` work the same way through configuration). A local root stays a
:class:`pathlib.Path`, so local lakes behave exactly as they always did. A remote root is a
:class:`LakeURI`: it joins with ``/`` like a path but has no ``__fspath__``, so handing it to
``open``, ``Path`` or ``mkdir`` fails loudly instead of creating a local directory named after
the URI.

Three engines reach a remote lake, each with its own spelling of the same settings (credentials
and endpoint from the standard ``AWS_*`` environment variables, overlaid by
``lake.storage_options``):

* delta-rs: :func:`delta_options` (object_store keys, which are the ``AWS_*`` names);
* pyarrow filesystems, for everything that is not a Delta table (reports, Data Docs, run logs,
  exports, checkpoints): :func:`filesystem`, :func:`write_bytes`, :func:`upload_tree`…;
* Spark: :func:`spark_conf` (``spark.hadoop.fs.s3a.*``).

Files that a library insists on writing locally (Great Expectations' file context, a logging
FileHandler, the JVM's log) are written to a local work directory (:func:`workdir`: the lake
itself when local, a cache directory named by a hash of the URI when remote) and copied to the
lake with :func:`upload_tree` when complete.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# The standard AWS variables every engine understands; lake.storage_options overrides them.
AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
           "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION")
DEFAULT_CACHE = "~/.cache/codemill"


class LakeURI:
    """A location in an object store: ``s3://bucket/prefix/…``. Joins with ``/``, never touches a local disk."""

    __slots__ = ("uri",)

    def __init__(self, uri: str):
        match = _SCHEME.match(uri)
        if not match or not uri[match.end():].split("/", 1)[0]:
            raise ValueError(f"{uri!r} is not an object-store URI (scheme://bucket/prefix)")
        self.uri = match.group(1).lower() + "://" + uri[match.end():].rstrip("/")

    def __truediv__(self, part: object) -> LakeURI:
        return LakeURI(f"{self.uri}/{str(part).strip('/')}")

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"LakeURI({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LakeURI) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def scheme(self) -> str:
        return self.uri.split("://", 1)[0]

    @property
    def bucket(self) -> str:
        return self.uri.split("://", 1)[1].split("/", 1)[0]

    @property
    def key(self) -> str:
        """The path inside the bucket (no leading slash; '' at the bucket's root)."""
        rest = self.uri.split("://", 1)[1]
        return rest.split("/", 1)[1] if "/" in rest else ""

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    @property
    def parent(self) -> LakeURI:
        return LakeURI(self.uri.rsplit("/", 1)[0]) if self.key else self

    def is_relative_to(self, other: object) -> bool:
        return isinstance(other, LakeURI) and (self.uri == other.uri or self.uri.startswith(other.uri + "/"))

    # Path-like no-ops, so code that normalises a local path leaves a URI alone.
    def resolve(self) -> LakeURI:
        return self

    def expanduser(self) -> LakeURI:
        return self


Location = Path | LakeURI


def parse_root(value: Any) -> Location:
    """A lake root as configured → a resolved local Path or a LakeURI (``file://`` is local)."""
    if isinstance(value, LakeURI):
        return value
    text = os.path.expandvars(str(value))
    match = _SCHEME.match(text)
    if match and match.group(1).lower() == "file":
        return Path(unquote(urlparse(text).path)).expanduser().resolve()
    if match:
        return LakeURI(text)
    return Path(text).expanduser().resolve()


def is_remote(location: object) -> bool:
    return isinstance(location, LakeURI) or bool(_SCHEME.match(str(location))) and not str(location).startswith(
        "file://"
    )


def as_location(location: Location | str) -> Location:
    return location if isinstance(location, (Path, LakeURI)) else parse_root(location)


# --- credentials and endpoint -------------------------------------------------------------

# lake.storage_options of every remote lake configured in this process, by root URI. A table path
# reaches delta-rs as a string in many places; the longest registered root that prefixes it says
# which options apply.
_REGISTERED: dict[str, dict[str, str]] = {}


def register_options(root: Location, options: Mapping[str, str]) -> None:
    if isinstance(root, LakeURI):
        _REGISTERED[root.uri] = {str(k).upper(): str(v) for k, v in options.items()}


def effective_options(location: Location | str) -> dict[str, str]:
    """The ``AWS_*`` environment overlaid by the ``lake.storage_options`` of the lake holding ``location``."""
    uri = str(location)
    options = {name: os.environ[name] for name in AWS_ENV if os.environ.get(name)}
    if "AWS_ENDPOINT_URL" not in options and "AWS_ENDPOINT_URL_S3" in options:
        options["AWS_ENDPOINT_URL"] = options["AWS_ENDPOINT_URL_S3"]
    roots = [root for root in _REGISTERED if uri == root or uri.startswith(root + "/")]
    if roots:
        options.update(_REGISTERED[max(roots, key=len)])
    if "AWS_REGION" not in options and "AWS_DEFAULT_REGION" in options:
        options["AWS_REGION"] = options["AWS_DEFAULT_REGION"]
    return options


def delta_options(location: Location | str) -> dict[str, str] | None:
    """delta-rs ``storage_options`` for a table location (None for a local table: nothing changes there)."""
    if not is_remote(location):
        return None
    options = effective_options(location)
    options.pop("AWS_ENDPOINT_URL_S3", None)
    options.pop("AWS_DEFAULT_REGION", None)
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options.setdefault("AWS_ALLOW_HTTP", "true")
    if str(location).startswith(("s3://", "s3a://")):
        # Delta on S3 needs a mutual-exclusion story for commits; codemill's is the lake's writer
        # lock (data_platform.lake_lock: one writer process per lake), which is what makes
        # delta-rs' plain rename-free commit safe here.
        options.setdefault("AWS_S3_ALLOW_UNSAFE_RENAME", "true")
    return options


def delta_table(location: Location | str, version: int | None = None):
    """A delta-rs DeltaTable at ``location`` with the lake's credentials."""
    from deltalake import DeltaTable

    return DeltaTable(str(location), version=version, storage_options=delta_options(location))


def write_delta(location: Location | str, data, **kwargs) -> None:
    from deltalake import write_deltalake

    write_deltalake(str(location), data, storage_options=delta_options(location), **kwargs)


SECRET_S3A_KEYS = ("fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.session.token")


def spark_conf(root: Location, options: Mapping[str, str] | None = None) -> dict[str, str]:
    """Spark settings that reach an ``s3://`` lake through Hadoop's S3A connector (no secrets).

    ``s3://`` and ``s3a://`` are both bound to S3A, so table paths are the same strings in
    Spark, delta-rs and pyarrow. Other schemes (``gs://``, ``abfss://``) take their connector
    and settings from ``spark.conf`` in the configuration. Keys are not among these settings:
    Spark puts its launch settings on the JVM's command line, where any local user reads them
    (``ps``); see :func:`spark_secrets`.
    """
    if not isinstance(root, LakeURI) or root.scheme not in ("s3", "s3a"):
        return {}
    opts = effective_options(root) if options is None else dict(options)
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # Delta opens its log through FileContext when the scheme has one (else it warns and falls back).
        "spark.hadoop.fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        "spark.hadoop.fs.AbstractFileSystem.s3a.impl": "org.apache.hadoop.fs.s3a.S3A",
    }
    if opts.get("AWS_REGION"):
        conf["spark.hadoop.fs.s3a.endpoint.region"] = opts["AWS_REGION"]
    endpoint = opts.get("AWS_ENDPOINT_URL")
    if endpoint:
        # A custom endpoint (MinIO, moto, Ceph) serves buckets as paths, not host names.
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
    return conf


def spark_secrets(root: Location, options: Mapping[str, str] | None = None) -> dict[str, str]:
    """The S3A credentials (Hadoop keys, no ``spark.hadoop.`` prefix), set on the running session's
    Hadoop configuration rather than on the JVM's command line."""
    if not isinstance(root, LakeURI) or root.scheme not in ("s3", "s3a"):
        return {}
    opts = effective_options(root) if options is None else dict(options)
    if not opts.get("AWS_ACCESS_KEY_ID"):
        return {}  # S3A's default chain: instance profile, web identity, ~/.aws
    secrets = {"fs.s3a.access.key": opts["AWS_ACCESS_KEY_ID"], "fs.s3a.secret.key": opts.get("AWS_SECRET_ACCESS_KEY", "")}
    if opts.get("AWS_SESSION_TOKEN"):
        secrets["fs.s3a.session.token"] = opts["AWS_SESSION_TOKEN"]
        secrets["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
    else:
        secrets["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    return secrets


# --- files that are not Delta tables -------------------------------------------------------

def filesystem(location: Location | str):
    """(pyarrow FileSystem, path inside it) for a location; local paths get the local filesystem."""
    from pyarrow import fs

    location = as_location(location)
    if isinstance(location, Path):
        return fs.LocalFileSystem(), str(location)
    if location.scheme in ("s3", "s3a"):
        opts = effective_options(location)
        kwargs: dict[str, Any] = {}
        if opts.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(access_key=opts["AWS_ACCESS_KEY_ID"], secret_key=opts.get("AWS_SECRET_ACCESS_KEY"),
                          session_token=opts.get("AWS_SESSION_TOKEN"))
        if opts.get("AWS_REGION"):
            kwargs["region"] = opts["AWS_REGION"]
        endpoint = opts.get("AWS_ENDPOINT_URL")
        if endpoint:
            parsed = urlparse(endpoint)
            kwargs.update(endpoint_override=parsed.netloc or endpoint, scheme=parsed.scheme or "https",
                          force_virtual_addressing=False)
        return fs.S3FileSystem(**kwargs), f"{location.bucket}/{location.key}".rstrip("/")
    # gs://, abfss://…: pyarrow picks the filesystem and reads its credentials from the environment.
    filesystem_, path = fs.FileSystem.from_uri(location.uri)
    return filesystem_, path


def exists(location: Location | str) -> bool:
    from pyarrow import fs

    filesystem_, path = filesystem(location)
    return filesystem_.get_file_info(path).type != fs.FileType.NotFound


def list_names(location: Location | str) -> list[str]:
    """Base names directly under a folder; an absent folder lists as empty."""
    from pyarrow import fs

    filesystem_, path = filesystem(location)
    infos = filesystem_.get_file_info(fs.FileSelector(path, allow_not_found=True))
    return sorted(info.base_name for info in infos)


def makedirs(location: Location | str) -> None:
    """Create a local folder; object stores have no folders, so nothing is written there."""
    location = as_location(location)
    if isinstance(location, Path):
        location.mkdir(parents=True, exist_ok=True)


def write_bytes(location: Location | str, data: bytes) -> None:
    location = as_location(location)
    if isinstance(location, Path):
        location.parent.mkdir(parents=True, exist_ok=True)
        location.write_bytes(data)
        return
    filesystem_, path = filesystem(location)
    with filesystem_.open_output_stream(path) as stream:
        stream.write(data)


def write_text(location: Location | str, text: str) -> None:
    write_bytes(location, text.encode("utf-8"))


def read_bytes(location: Location | str) -> bytes:
    filesystem_, path = filesystem(location)
    with filesystem_.open_input_stream(path) as stream:
        return stream.read()


def read_text(location: Location | str) -> str:
    return read_bytes(location).decode("utf-8")


def upload_tree(local: Path, target: Location) -> int:
    """Copy every file under a local folder to ``target`` (no-op when they are the same place); returns files."""
    if isinstance(target, Path) and target.resolve() == Path(local).resolve():
        return 0
    from pyarrow import fs

    if not Path(local).is_dir():
        return 0
    destination, path = filesystem(target)
    fs.copy_files(str(local), path, source_filesystem=fs.LocalFileSystem(), destination_filesystem=destination)
    return sum(1 for p in Path(local).rglob("*") if p.is_file())


def download_tree(source: Location, local: Path) -> int:
    """Copy a lake folder to a local folder (absent: nothing copied); returns files copied."""
    if isinstance(source, Path) and source.resolve() == Path(local).resolve():
        return 0
    from pyarrow import fs

    if not exists(source):
        return 0
    origin, path = filesystem(source)
    Path(local).mkdir(parents=True, exist_ok=True)
    fs.copy_files(path, str(local), source_filesystem=origin, destination_filesystem=fs.LocalFileSystem())
    return sum(1 for p in Path(local).rglob("*") if p.is_file())


def cache_dir(root: Location, cache_root: str | Path = DEFAULT_CACHE) -> Path:
    """This machine's private folder for a remote lake, named by a hash (never after the URI itself)."""
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return Path(os.path.expandvars(str(cache_root))).expanduser().resolve() / "lakes" / digest


def workdir(root: Location, part: str, cache_root: str | Path = DEFAULT_CACHE) -> Path:
    """A local folder for files a library must write locally: ``<lake>/<part>`` itself for a local
    lake, the lake's cache folder for a remote one (copy it to ``root / part`` with upload_tree)."""
    return root / part if isinstance(root, Path) else cache_dir(root, cache_root) / part


def download_once(source: Location, local: Path) -> Path:
    """``local`` holding the files of ``source``, downloaded unless it is already there.

    The copy lands in a sibling folder first and is renamed into place, so a reader never sees a
    half-downloaded folder and two processes fetching the same folder at once both end up with
    one complete copy (the loser of the rename drops its own).
    """
    import shutil
    import uuid

    local = Path(local)
    if local.is_dir():
        return local
    staging = local.with_name(f"{local.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    if download_tree(source, staging) == 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise FileNotFoundError(f"{source} holds no files")
    try:
        staging.rename(local)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not local.is_dir():
            raise
    return local


def cached_copy(location: Location | str, cache_root: str | Path = DEFAULT_CACHE) -> Path:
    """A local folder with the files of ``location`` (a model export, a checkpoint): the folder itself
    when it is local; for an object-store folder, a copy under ``<cache>/objects/<hash>``.

    The hash covers the URI and every file's name, size and modification time (one listing), so
    an unchanged folder is downloaded once per machine and a rewritten one again; the cache folder
    is never named after the URI.
    """
    import json

    from pyarrow import fs

    location = as_location(location)
    if isinstance(location, Path):
        return location
    filesystem_, path = filesystem(location)
    infos = filesystem_.get_file_info(fs.FileSelector(path, recursive=True, allow_not_found=True))
    files = sorted((info.path, info.size, info.mtime_ns) for info in infos if info.type == fs.FileType.File)
    if not files:
        raise FileNotFoundError(f"{location} holds no files")
    digest = hashlib.sha256(json.dumps([str(location), files]).encode()).hexdigest()[:16]
    root = Path(os.path.expandvars(str(cache_root))).expanduser().resolve()
    return download_once(location, root / "objects" / digest)
