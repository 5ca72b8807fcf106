"""Where an evaluated model came from, which table version to measure it on, and contamination.

``--model`` takes a training run id, an export directory, ``tiny``/``smollm2`` or a hub id.
A run id resolves through ``ops.training_runs`` to its export directory; an export directory
is matched back to the run that wrote it. An export on object storage (a run on an ``s3://``
lake, or its URI given directly) is loaded from this machine's copy in ``lake.cache_dir``
(``data_platform.storage.cached_copy``: downloaded once, keyed by a hash of its files). Either way we learn the gold table version the
model learned from, whose valid/test split (repositories it never saw) is its held-out set.

Decontamination evidence comes from the ingest run that wrote the gold version
(``ops.ingest_runs``): its recorded config's ``decontamination`` section, or
``decontaminate.<benchmark>`` keys in its stage counts. No evidence means a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from data_platform import storage
from data_platform.ops.records import read_rows
from data_platform.ops.runs import LineageError
from data_platform.publication import GOLD_TABLE, latest_published_version, publication_of
from training.config import TrainingConfig
from training.evaluation.problems import HUMANEVAL

DECONTAMINATION_PREFIX = "decontaminate."
NAMED_MODELS = ("tiny", "smollm2")  # built-in specs of training.model


@dataclass(frozen=True)
class ModelRef:
    """A model as given on the command line, and what lineage we know about it."""

    spec: str  # as the user wrote it
    load_spec: str  # what training.model.load_model_and_tokenizer gets (a local copy of a remote export)
    training_run_id: str | None = None
    table_path: str | None = None
    table_version: int | None = None
    base_model: str | None = None
    location: str | None = None  # where the model lives when load_spec is a copy of it (an s3:// export)

    @property
    def model_path(self) -> str:
        """The model's path as recorded with results: its own location, not this machine's copy."""
        return self.location or self.load_spec

    @property
    def label(self) -> str:
        return self.training_run_id or self.spec


@dataclass
class HeldoutTarget:
    table_path: str
    table_version: int
    published: bool
    reason: str
    warnings: list[str] = field(default_factory=list)


def _same_dir(a: str | None, b: Path) -> bool:
    if not a:
        return False
    try:
        return Path(a).expanduser().resolve() == b
    except OSError:
        return False


def export_exists(export: str | None) -> bool:
    if not export:
        return False
    if storage.is_remote(export):
        return storage.exists(storage.as_location(export) / "config.json")
    return Path(export).expanduser().is_dir()


def _remote_ref(config: TrainingConfig, spec: str, export: str, run: dict | None) -> ModelRef:
    """An export on object storage: loaded from this machine's cached copy, recorded by its URI."""
    try:
        local = storage.cached_copy(export, config.lake.cache_dir)
    except FileNotFoundError:
        raise LineageError(f"model {spec!r}: nothing at {export}") from None
    if run is None:
        return ModelRef(spec, str(local), location=export)
    return ModelRef(spec, str(local), run["run_id"], run["table_path"], run["table_version"], run["model_name"],
                    location=export)


def resolve_model(config: TrainingConfig, spec: str) -> ModelRef:
    """Turn ``--model`` into something loadable plus the lineage ``ops.training_runs`` holds."""
    runs = read_rows(config, "ops.training_runs")
    by_id = {row["run_id"]: row for row in runs}
    if spec in by_id:
        run = by_id[spec]
        export = run.get("export_path")
        if not export_exists(export):
            raise LineageError(
                f"training run {spec} has no export directory (status {run['status']}, export {export})"
            )
        if storage.is_remote(export):
            return _remote_ref(config, spec, export, run)
        return ModelRef(
            spec, str(export), run["run_id"], run["table_path"], run["table_version"], run["model_name"]
        )
    if storage.is_remote(spec):
        uri = str(storage.as_location(spec))
        matches = [row for row in runs if row.get("export_path") and str(row["export_path"]).rstrip("/") == uri]
        return _remote_ref(config, spec, uri, max(matches, key=lambda row: row["started_at"]) if matches else None)
    folder = Path(spec).expanduser()
    if folder.is_dir():
        resolved = folder.resolve()
        matches = [row for row in runs if _same_dir(row.get("export_path"), resolved)]
        if matches:
            run = max(matches, key=lambda row: row["started_at"])
            return ModelRef(
                spec, str(resolved), run["run_id"], run["table_path"], run["table_version"], run["model_name"]
            )
        return ModelRef(spec, str(resolved))
    if spec in NAMED_MODELS or _looks_like_hub_id(spec):
        return ModelRef(spec, spec)
    raise LineageError(
        f"model {spec!r} is not a run id in ops.training_runs, an existing directory, "
        "tiny, smollm2 or a hub id (org/name)"
    )


def _looks_like_hub_id(spec: str) -> bool:
    return spec.count("/") == 1 and not spec.startswith((".", "/", "~")) and all(spec.split("/"))


def heldout_target(
    config: TrainingConfig, models: list[ModelRef], explicit_version: int | None = None
) -> HeldoutTarget | None:
    """The one gold version every compared model is measured on.

    Priority: an explicit ``--table-version``; the version the (first) fine-tuned model was
    trained on (its valid/test split is held out by construction); the latest published
    version. None when the lake has no gold table to read.
    """
    table_path = str(config.lake.table_path(GOLD_TABLE))
    trained = [model for model in models if model.table_version is not None]
    if explicit_version is not None:
        version, reason = explicit_version, "chosen with --table-version"
    elif trained:
        version = int(trained[0].table_version)
        table_path = trained[0].table_path or table_path
        reason = f"the version training run {trained[0].training_run_id} learned from"
    else:
        latest = latest_published_version(config)
        if latest is None:
            return None
        version, reason = latest.table_version, "the latest published version"
    target = HeldoutTarget(
        table_path, version, publication_of(config, GOLD_TABLE, version) is not None, reason
    )
    if not target.published:
        target.warnings.append(
            f"{GOLD_TABLE} version {version} was never published (no passing quality gate)"
        )
    other = {model.table_version for model in trained} - {version}
    if other:
        target.warnings.append(
            f"models were trained on different versions ({sorted(other | {version})}); "
            f"held-out loss uses {version}"
        )
    return target


def _as_dict(value) -> dict:
    """Arrow map columns read back as lists of (key, value) pairs."""
    if not value:
        return {}
    return dict(value.items()) if isinstance(value, dict) else dict(value)


def _ingest_runs_of(config: TrainingConfig, table_version: int) -> list[dict]:
    """The ingest runs that wrote ``table_version`` of gold (by their table_versions map, else
    by the run ids stamped on the version's rows)."""
    runs = read_rows(config, "ops.ingest_runs")
    found = [run for run in runs if _as_dict(run.get("table_versions")).get(GOLD_TABLE) == table_version]
    if found or not runs:
        return found
    import pyarrow.compute as pc

    from data_platform.storage import delta_table

    try:
        column = delta_table(
            str(config.lake.table_path(GOLD_TABLE)), version=table_version
        ).to_pyarrow_dataset()
        run_ids = set(pc.unique(column.to_table(columns=["run_id"]).column("run_id")).to_pylist())
    except Exception:  # noqa: BLE001 - no readable gold version means no evidence, not a crash
        return []
    return [run for run in runs if run["run_id"] in run_ids]


def _decontamination_section(config_yaml: str) -> dict | None:
    """The ``decontamination`` settings recorded in a run's config, wherever they are nested."""
    try:
        data = yaml.safe_load(config_yaml or "") or {}
    except yaml.YAMLError:
        return None
    pending = [data]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("decontamination"), dict):
                return node["decontamination"]
            pending.extend(node.values())
    return None


def decontaminated_benchmarks(config: TrainingConfig, table_version: int) -> set[str] | None:
    """Benchmarks the ingest run(s) that wrote ``table_version`` of gold checked for overlap.

    Evidence: ``decontaminate.<benchmark>`` keys in the run's stage counts, or an enabled
    ``decontamination`` section in its recorded config (``humaneval: true`` and the names of
    its ``benchmark_files``). None when no ingest run of that version is recorded at all.
    """
    runs = _ingest_runs_of(config, table_version)
    if not runs:
        return None
    checked: set[str] = set()
    for run in runs:
        for key in _as_dict(run.get("stage_counts")):
            if key.startswith(DECONTAMINATION_PREFIX):
                checked.add(key[len(DECONTAMINATION_PREFIX) :])
        section = _decontamination_section(run.get("config_yaml") or "")
        if section and section.get("enabled", True):
            if section.get("humaneval", True):
                checked.add(HUMANEVAL)
            checked.update(Path(str(name)).name for name in section.get("benchmark_files") or [])
    return checked


def contamination_warnings(config: TrainingConfig, model: ModelRef, benchmark: str) -> list[str]:
    """A warning when the model's training data has no record of decontamination against ``benchmark``."""
    if model.table_version is None:
        if model.training_run_id is None:
            return []  # a base model: its pre-training data is not ours to vouch for
        return [f"training run {model.training_run_id} records no table version"]
    checked = decontaminated_benchmarks(config, int(model.table_version))
    if checked is None:
        return [
            f"no ingest run recorded for {GOLD_TABLE} version {model.table_version}: "
            "cannot tell whether it was "
            f"decontaminated against {benchmark}"
        ]
    if benchmark in checked:
        return []
    return [
        f"{GOLD_TABLE} version {model.table_version} (training data of {model.label}) has no record of "
        f"decontamination against {benchmark}: its pass@k may be inflated"
    ]
