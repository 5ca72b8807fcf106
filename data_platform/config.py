"""The data platform's configuration, and the loader every layer's configuration uses.

Each package owns the sections it reads: :class:`PlatformConfig` holds the data platform's
(lake, spark, ingest, dedup, pii, decontamination, filters, gold, quality);
``training.config.TrainingConfig`` adds ``ray``, ``train`` and ``eval``;
``serving.config.PlatformConfig``, the root that the CLI and jobs load, adds ``serve``. Each
is a subclass of the one below it, so a function of a lower layer takes the root object as
the typed configuration it needs, and no package imports upward to know a section.

Resolution order (later wins): the embedded default (``default_config.yaml``), a user
YAML file, the ``CODEMILL_LAKE`` environment variable, then ``section.key=value``
overrides from the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, PlainSerializer, ValidationError, field_validator, model_validator

from data_platform.settings.base import Section
from data_platform.settings.ingest import IngestSettings
from data_platform.settings.quality import QualitySettings
from data_platform.settings.refine import (
    DecontaminationSettings,
    DedupSettings,
    FilterSettings,
    GoldSettings,
    PiiSettings,
)
from data_platform.storage import DEFAULT_CACHE, LakeURI, Location, cache_dir, parse_root, register_options

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.yaml")
LAKE_ENV_VAR = "CODEMILL_LAKE"


class ConfigError(ValueError):
    """A configuration problem, phrased as one line naming the key and the issue."""


# A local Path or a LakeURI (data_platform.storage); written back as the string it came from.
LakeRoot = Annotated[Any, PlainSerializer(str, return_type=str)]


class LakeSettings(Section):
    root: LakeRoot = Field(
        "~/.codemill/lake", validate_default=True,
        description="A local path, file://path, or an object-store URI (s3://bucket/prefix; gs://, abfss:// "
        "through spark.conf and storage_options)",
    )
    metastore: str = "embedded"
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="Object-store settings overriding the AWS_* environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY, AWS_REGION, or delta-rs/object_store keys); mapped to Spark's fs.s3a.*, "
        "delta-rs and pyarrow",
    )
    cache_dir: str = Field(
        DEFAULT_CACHE, description="This machine's cache for a remote lake (catalog, logs, Great Expectations work "
        "files), in a folder named by a hash of the lake URI"
    )
    writer_lock: Literal["auto", "on", "off"] = Field(
        "auto", description="One writer process per lake (a lock object under <lake>/_locks): 'auto' = on for "
        "object-store lakes, where Delta commits are not atomic renames"
    )
    writer_lock_backend: Literal["auto", "file", "s3", "object_store"] = Field(
        "auto", description="How the writer lock is taken: 'auto' = file (O_EXCL) for a local lake, s3 (boto3 "
        "conditional puts) for s3://, object_store (delta-rs' object_store: conditional create/update on S3, GCS, "
        "Azure) for gs://, abfss:// and the rest"
    )
    writer_lease_s: int = Field(
        6 * 3600, ge=60, description="A writer lock older than this is stale and may be taken over"
    )
    purge_retention_hours: int = Field(
        0, ge=0, description="`codemill purge` vacuums changed tables keeping this many hours of old versions "
        "(0: older versions holding purged rows become unreadable at once)"
    )

    @field_validator("root", mode="before")
    @classmethod
    def _expand(cls, root: Any) -> Location:
        return parse_root(root)

    @field_validator("writer_lock", mode="before")
    @classmethod
    def _yaml_switch(cls, value: Any) -> Any:
        # YAML reads a bare on/off as a boolean.
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("metastore")
    @classmethod
    def _metastore_kind(cls, value: str) -> str:
        if value != "embedded" and not value.startswith("thrift://"):
            raise ValueError("must be 'embedded' or a thrift://host:port URI")
        return value

    @model_validator(mode="after")
    def _register(self) -> LakeSettings:
        # delta-rs is handed table paths as strings in many places; the registry maps them back
        # to this lake's storage options (data_platform.storage.delta_options).
        register_options(self.root, self.storage_options)
        return self

    @property
    def remote(self) -> bool:
        return isinstance(self.root, LakeURI)

    def table_path(self, table_name: str) -> Location:
        """Where a named table's Delta log lives: ``<root>/<database>/<table>``, or
        ``<root>/restricted/<database>/<table>`` for a contract marked ``restricted``.

        The one place that decides the layout: every restricted table sits under
        :attr:`restricted_root`, so one POSIX mode or one bucket-policy prefix keeps raw and
        unredacted data from everyone but pipeline accounts (docs/security.md).
        """
        from data_platform.contracts import all_contracts

        table = all_contracts().get(table_name)
        base = self.restricted_root if table is not None and table.restricted else self.root
        database, _, name = table_name.partition(".")
        return base / database / name

    def legacy_table_path(self, table_name: str) -> Location:
        """Where releases before the restricted prefix kept every table (see data_platform.lake_moves)."""
        database, _, name = table_name.partition(".")
        return self.root / database / name

    @property
    def restricted_root(self) -> Location:
        return self.root / "restricted"

    def restricted_paths(self) -> dict[str, Location]:
        """What SQL tools refuse without --allow-restricted: each restricted table by name → path,
        and the whole restricted prefix (a table some later release adds there is covered too)."""
        from data_platform.contracts import all_contracts

        paths = {name: self.table_path(name) for name, table in all_contracts().items() if table.restricted}
        paths[f"{self.restricted_root}/ (the restricted prefix)"] = self.restricted_root
        return paths

    @property
    def local_dir(self) -> Path:
        """This machine's folder for the lake's local-only files: the lake itself, or its cache when remote."""
        return cache_dir(self.root, self.cache_dir) if self.remote else self.root

    @property
    def warehouse_dir(self) -> Path:
        return self.local_dir / "_warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.local_dir / "_metastore"


class SparkSettings(Section):
    master: str = "local[*]"
    app_name: str = "codemill"
    driver_memory: str = "2g"
    shuffle_partitions: int = Field(8, ge=1)
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = "WARN"
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("master")
    @classmethod
    def _known_master(cls, value: str) -> str:
        if not value.startswith(("local", "spark://", "k8s://", "yarn")):
            raise ValueError("must be local[...], spark://host:port, k8s://... or yarn")
        return value


class PlatformConfig(Section):
    lake: LakeSettings = Field(default_factory=LakeSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    decontamination: DecontaminationSettings = Field(default_factory=DecontaminationSettings)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    gold: GoldSettings = Field(default_factory=GoldSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.zero_stage=3`` → (["train", "zero_stage"], 3); values are parsed as YAML scalars."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def is_override(token: str, model: type[PlatformConfig] = PlatformConfig) -> bool:
    """True for command-line tokens meant as overrides (``section.key=value``) of ``model``'s sections."""
    key, sep, _ = token.partition("=")
    if not sep or "." not in key or " " in key or key.startswith("-"):
        return False
    return key.split(".")[0] in model.model_fields


def _apply_override(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(path)}: {part} is a value, not a section")
        node = child
    node[path[-1]] = value


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "<root>"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    shown = first.get("input")
    got = "" if first["type"] in ("extra_forbidden", "missing") or isinstance(shown, dict) else f" (got {shown!r})"
    more = f" [+{len(err.errors()) - 1} more]" if len(err.errors()) > 1 else ""
    return f"config error: {key}: {message}{got}{more}"


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
    model: type[PlatformConfig] = PlatformConfig,
) -> PlatformConfig:
    """Build the effective configuration as ``model``; raises ConfigError with a one-line message.

    ``model`` is the configuration of the layer asking (the CLI and jobs pass the root,
    ``serving.config.PlatformConfig``); a section it does not know is an error, as a typo is.
    """
    environ = os.environ if environ is None else environ
    data = _read_yaml(DEFAULT_CONFIG_PATH)
    if path is not None:
        data = _deep_merge(data, _read_yaml(Path(path)))
    if environ.get(LAKE_ENV_VAR):
        data.setdefault("lake", {})["root"] = environ[LAKE_ENV_VAR]
    for text in overrides:
        keys, value = parse_override(text)
        _apply_override(data, keys, value)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None
