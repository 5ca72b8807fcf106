"""Capacity model: wall time and core-hours of each pipeline stage for a corpus on a given cluster.

Every prediction is arithmetic on rates that ``benchmarks/`` measured on real code (stored
with the date, machine and command that produced them in ``benchmarks/rates.json``):

    core-seconds(stage) = bytes the stage reads / (MB per core-second × 1e6)
    wall(stage)         = core-seconds / cores                  (Spark stages: every core busy)
    wall(train)         = tokens / (GPUs × tokens per GPU-second)

That is a linear model, so it is a lower bound wherever the cost grows faster than the data:
a stage's rate may carry a growth exponent that ``benchmarks/scaling.py`` measured for what
drives its work (candidate pairs against documents for LSH/verification/components; 1.0 =
linear). Stages above :data:`SUPERLINEAR_EXPONENT` are flagged, and the model shows what the prediction would become
if that measured growth held all the way to the target size — an extrapolation over many
orders of magnitude, reported beside the linear figure, never instead of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RATES_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "rates.json"
SUPERLINEAR_EXPONENT = 1.1  # measured exponents within 10% of linear are noise at 2x steps

# (stage, what it reads, description): the Spark stages in pipeline order, then tokenisation,
# which streams through Ray Data on the training nodes' CPUs while the GPUs train.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("crawl", "raw", "read files into bronze.files and bronze.file_contents"),
    ("curate", "raw", "decode, language, tree-sitter parse, signals, license, PII → silver"),
    ("dedup_signatures", "raw", "MinHash signatures of distinct contents"),
    ("dedup_lsh_components", "raw", "LSH buckets, pair verification, connected components"),
    ("gold", "raw", "contents, decontamination, filters, keepers, silver MERGE, gold write"),
    ("quality_gate", "raw", "Great Expectations suites on what the run wrote"),
    ("tokenise", "gold", "tokenise + FIM + pack for training"),
)


class RatesError(ValueError):
    """The rates file is missing, unreadable, or lacks a rate the model needs."""


def load_rates(path: Path | str = RATES_PATH) -> dict[str, dict]:
    """The ``rates`` mapping of a rates file (stage → rate entry)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise RatesError(f"no rates file at {path}: run benchmarks/scaling.py --write-rates") from err
    except json.JSONDecodeError as err:
        raise RatesError(f"{path} is not valid JSON: {err}") from err
    rates = data.get("rates")
    if not isinstance(rates, dict):
        raise RatesError(f"{path} has no 'rates' object")
    return rates


def update_rates(entries: dict[str, dict], path: Path | str = RATES_PATH) -> Path:
    """Replace the given stages' entries in the rates file, keeping the others."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault("about", "Per-core rates measured by benchmarks/ (see each entry's command); "
                             "read by `codemill plan` (data_platform/capacity.py).")
    data.setdefault("rates", {}).update(entries)
    data["rates"] = dict(sorted(data["rates"].items()))
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Cluster:
    spark_cores: int
    gpus: int


@dataclass(frozen=True)
class Workload:
    corpus_bytes: float
    gold_fraction: float  # of raw bytes that reach gold (after filters and dedup)
    tokens_per_byte: float
    epochs: float = 1.0

    @property
    def gold_bytes(self) -> float:
        return self.corpus_bytes * self.gold_fraction

    @property
    def train_tokens(self) -> float:
        return self.gold_bytes * self.tokens_per_byte * self.epochs


@dataclass(frozen=True)
class StageEstimate:
    stage: str
    description: str
    input_bytes: float
    core_hours: float | None  # None for the GPU stage
    gpu_hours: float | None
    wall_hours: float
    growth_exponent: float | None
    superlinear: bool
    wall_hours_if_growth_holds: float | None  # the flagged stages' extrapolation
    runs_on: str = "spark"  # "spark", "training CPUs" (overlaps training) or "GPUs"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _rate(rates: dict[str, dict], stage: str, key: str) -> float:
    value = rates.get(stage, {}).get(key)
    if not isinstance(value, int | float) or value <= 0:
        raise RatesError(f"rates file has no positive '{key}' for stage '{stage}'")
    return float(value)


def growth_factor(exponent: float | None, measured_bytes: float | None, target_bytes: float) -> float:
    """How much more than linear a cost with ``cost ∝ size^exponent`` becomes at ``target_bytes``."""
    if not exponent or not measured_bytes or target_bytes <= measured_bytes:
        return 1.0
    return (target_bytes / measured_bytes) ** (exponent - 1.0)


def spark_stage(rates: dict[str, dict], stage: str, description: str, input_bytes: float,
                cluster: Cluster) -> StageEstimate:
    entry = rates.get(stage, {})
    core_seconds = input_bytes / (_rate(rates, stage, "mb_per_core_second") * 1e6)
    wall_hours = core_seconds / cluster.spark_cores / 3600
    exponent = entry.get("growth_exponent")
    superlinear = exponent is not None and exponent > SUPERLINEAR_EXPONENT
    extrapolated = None
    if superlinear:
        extrapolated = wall_hours * growth_factor(exponent, entry.get("measured_bytes"), input_bytes)
    return StageEstimate(stage, description, input_bytes, core_seconds / 3600, None, wall_hours, exponent,
                         superlinear, extrapolated)


def train_stage(rates: dict[str, dict], workload: Workload, cluster: Cluster) -> StageEstimate:
    per_gpu = _rate(rates, "train", "tokens_per_gpu_second")
    gpu_seconds = workload.train_tokens / per_gpu
    wall = gpu_seconds / cluster.gpus / 3600 if cluster.gpus else float("inf")
    description = f"train {workload.train_tokens / 1e9:,.1f} B tokens ({rates['train'].get('model', 'model')})"
    return StageEstimate("train", description, workload.gold_bytes, None, gpu_seconds / 3600, wall, None, False,
                         None, "GPUs")


def tokenise_stage(rates: dict[str, dict], workload: Workload, cluster: Cluster, train_wall: float) -> StageEstimate:
    """Tokenise + FIM + pack: CPU work that streams beside training, so it adds core-hours, not wall time."""
    core_seconds = workload.gold_bytes * workload.epochs / (_rate(rates, "tokenise", "mb_per_core_second") * 1e6)
    description = f"tokenise + FIM + pack; {cores_to_feed_gpus(rates, cluster):,.1f} CPU cores keep {cluster.gpus} GPUs fed"
    return StageEstimate("tokenise", description, workload.gold_bytes, core_seconds / 3600, None, train_wall,
                         None, False, None, "training CPUs")


def cores_to_feed_gpus(rates: dict[str, dict], cluster: Cluster) -> float:
    """CPU cores whose tokenisation rate matches what the GPUs consume."""
    consumed = cluster.gpus * _rate(rates, "train", "tokens_per_gpu_second")
    return consumed / _rate(rates, "tokenise", "tokens_per_core_second")


def plan(rates: dict[str, dict], workload: Workload, cluster: Cluster) -> list[StageEstimate]:
    """One estimate per stage, Spark stages then training."""
    if cluster.spark_cores < 1:
        raise ValueError("spark_cores must be at least 1")
    if cluster.gpus < 0:
        raise ValueError("gpus cannot be negative")
    estimates = []
    for stage, reads, description in STAGES:
        if stage == "tokenise":
            continue
        input_bytes = workload.corpus_bytes if reads == "raw" else workload.gold_bytes
        estimates.append(spark_stage(rates, stage, description, input_bytes, cluster))
    train = train_stage(rates, workload, cluster)
    return [*estimates, tokenise_stage(rates, workload, cluster, train.wall_hours), train]


def default_workload(rates: dict[str, dict], corpus_tb: float, gold_fraction: float | None = None,
                     tokens_per_byte: float | None = None, epochs: float = 1.0) -> Workload:
    """A workload whose unspecified shape (gold fraction, tokens per byte) comes from the measurements."""
    if corpus_tb <= 0:
        raise ValueError("corpus size must be positive")
    shape = rates.get("corpus_shape", {})
    gold = gold_fraction if gold_fraction is not None else shape.get("gold_fraction_of_bytes")
    tokens = tokens_per_byte if tokens_per_byte is not None else rates.get("tokenise", {}).get("tokens_per_byte")
    if not gold or not 0 < gold <= 1:
        raise RatesError("no gold fraction: pass one or run benchmarks/scaling.py --write-rates")
    if not tokens or tokens <= 0:
        raise RatesError("no tokens per byte: pass one or run benchmarks/tokenise.py --write-rates")
    return Workload(corpus_tb * 1e12, float(gold), float(tokens), epochs)
