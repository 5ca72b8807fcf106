"""Cost growth of curation and dedup: CPU-seconds per document at 1x, 2x, 4x and 8x of a real corpus.

    .venv/bin/python benchmarks/scaling.py [--base 1000] [--multiples 1,2,4,8] [--master local[2]] [--write-rates]

What runs: the platform's own ingest job (``run_ingest`` with the stages ``jobs/ingest.py``
runs: crawl → curate → refine (exact + MinHash LSH dedup, decontamination, filters, gold) →
Great Expectations gate), on a fresh lake per size, each size in its own process with its own
Spark session, so no size inherits another's caches or incremental state.

The corpus: distinct real files from this virtual environment's installed packages
(site-packages: Python, C/C++, JavaScript, shell …, 300 B to 100 kB), in a fixed pseudo-random
order (sha1 of the path). Size k× is the first k × base of them, so each size contains the
smaller ones and grows by adding *more distinct real files*, not copies: the duplicates dedup
finds are the ones that really occur among installed packages (vendored copies, shared
boilerplate). The files are written as one Parquet dataset in The Stack's layout
(repo_name = the package's top-level directory, path, content), which is how a corpus of
that scale arrives; row groups of 100 files are the slices the crawl tasks are packed from.

What is measured: CPU-seconds of every process of the run (this driver, the Spark JVM, the
Python workers), read from /proc through psutil at each stage boundary and every 0.25 s in
between (so a process keeps what it used even after it ends; see TreeCpuMeter), after a
warm-up job has started the JVM's Python workers. Per stage: crawl,
curate, dedup signatures, LSH buckets + verification + connected components, the rest of
refine (contents, decontamination, filters, keeper choice, silver MERGE, gold write), the
quality gate, and the run bookkeeping. Spark's start-up is not counted (a fixed cost per job).

Prints one JSON object: per size the documents, CPU-seconds and CPU-seconds per document for
each stage and in total; the spread of the per-document cost across sizes (goal: within ±20%);
the marginal cost per added document between sizes and a least-squares fit
cost = fixed + per-document × documents, with the per-document cost once the fixed part (what
every run pays whatever its size: Spark jobs, Delta commits, Great Expectations set-up) is
taken out; per stage the marginal growth exponent (1 + log of how much the marginal cost per
document grew over the last doubling; 1.0 = linear, 2.0 = quadratic: noisy where a stage's
variable cost is small next to run-to-run noise); and how candidate and verified near-duplicate
pairs grew against documents. ``--write-rates`` stores per-core rates (least-squares slope of
CPU-seconds against MB over all sizes) and growth exponents (candidate pairs for the
LSH/verification/components stage) in ``benchmarks/rates.json`` for ``codemill plan``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SUFFIXES = (".py", ".pyi", ".c", ".h", ".cc", ".cpp", ".hpp", ".js", ".mjs", ".ts", ".sh", ".java", ".go", ".rs",
            ".rb", ".php")
ROW_GROUP_FILES = 100
# Stages as the capacity model names them (data_platform.capacity.STAGES).
STAGES = ("crawl", "curate", "dedup_signatures", "dedup_lsh_components", "gold", "quality_gate", "bookkeeping")


# ----------------------------------------------------------------------------- corpus


def corpus_files(count: int, min_bytes: int = 300, max_bytes: int = 100_000) -> list[tuple[str, Path]]:
    """(package, path) of ``count`` real source files of installed packages, in a fixed shuffled order."""
    root = Path(sysconfig.get_paths()["purelib"])
    candidates = []
    for path in root.rglob("*"):
        if path.suffix not in SUFFIXES or not path.is_file() or path.is_symlink():
            continue
        size = path.stat().st_size
        if min_bytes <= size <= max_bytes:
            candidates.append(path)
    candidates.sort(key=lambda p: hashlib.sha1(str(p.relative_to(root)).encode()).hexdigest())
    chosen = []
    for path in candidates:
        try:
            path.read_bytes().decode("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        chosen.append((path.relative_to(root).parts[0], path))
        if len(chosen) == count:
            break
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} source files under {root}; lower --base")
    return chosen


def write_dataset(files: list[tuple[str, Path]], target: Path) -> int:
    """One Parquet file in The Stack's layout; returns its size in bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(sysconfig.get_paths()["purelib"])
    table = pa.table({
        "repo_name": [f"pypi/{package}" for package, _ in files],
        "path": [str(path.relative_to(root / package)) for package, path in files],
        "content": [path.read_text(encoding="utf-8") for _, path in files],
    })
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, row_group_size=ROW_GROUP_FILES)
    return sum(len(text.encode()) for text in table.column("content").to_pylist())


# ----------------------------------------------------------------------------- CPU accounting


class TreeCpuMeter:
    """CPU-seconds of this process and every descendant, sampled from /proc through psutil.

    Each process is read by itself (user + system, children excluded) and remembered by
    (pid, start time) at the highest value seen, so a process that ends keeps what it used up
    to its last sample however (and by whom) it is reaped. A background thread samples every
    ``interval`` seconds; a process that lives shorter than that, or its last moments, is
    missed (Spark's Python workers and the JVM live for the whole run).
    """

    def __init__(self, interval: float = 0.25):
        import threading

        self.interval = interval
        self.seen: dict[tuple[int, float], float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        import psutil

        me = psutil.Process()
        for process in [me, *me.children(recursive=True)]:
            try:
                with process.oneshot():
                    times, key = process.cpu_times(), (process.pid, process.create_time())
            except psutil.Error:
                continue
            with self._lock:
                self.seen[key] = max(self.seen.get(key, 0.0), times.user + times.system)

    def total(self) -> float:
        self.sample()
        with self._lock:
            return sum(self.seen.values())

    def stop(self) -> None:
        self._stop.set()


class CpuLedger:
    """CPU-seconds and wall seconds per named section; sections may nest (inner ones are subtracted)."""

    def __init__(self, meter: TreeCpuMeter) -> None:
        self.meter = meter
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self._open: list[list[float]] = []  # [cpu consumed by nested sections, ...]

    def measure(self, name: str, function, *args, **kwargs):
        cpu_start, wall_start = self.meter.total(), time.perf_counter()
        self._open.append([0.0, 0.0])
        try:
            return function(*args, **kwargs)
        finally:
            nested_cpu, nested_wall = self._open.pop()
            cpu, wall = self.meter.total() - cpu_start, time.perf_counter() - wall_start
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu - nested_cpu
            self.wall[name] = self.wall.get(name, 0.0) + wall - nested_wall
            if self._open:
                self._open[-1][0] += cpu
                self._open[-1][1] += wall


class MeasuredStage:
    """An ingest stage whose CPU goes to ``ledger`` under ``label``."""

    def __init__(self, stage, label: str, ledger: CpuLedger):
        self.stage, self.name, self.label, self.ledger = stage, stage.name, label, ledger

    def run(self, ctx) -> None:
        self.ledger.measure(self.label, self.stage.run, ctx)


def instrument_dedup(ledger: CpuLedger) -> None:
    """Split refine's dedup work into signatures and LSH/components (module attributes refine looks up)."""
    from data_platform.dedup import clustering

    update_signatures, content_clusters = clustering.update_signatures, clustering.content_clusters
    clustering.update_signatures = lambda *a, **k: ledger.measure("dedup_signatures", update_signatures, *a, **k)
    clustering.content_clusters = lambda *a, **k: ledger.measure("dedup_lsh_components", content_clusters, *a, **k)


# ----------------------------------------------------------------------------- one size (child process)


def run_one(dataset: Path, lake: Path, master: str) -> dict:
    from data_platform.ingest.finish import pipeline_stages
    from data_platform.ingest.run import run_ingest
    from data_platform.spark import get_spark
    from serving.config import load_config

    # The measured corpus (installed packages) has no license files: admit it, as before the
    # default policy became permissive-only, so every stage keeps its work.
    config = load_config(overrides=[f"lake.root={lake}", f"spark.master={master}",
                                    "filters.allowed_license_classes=[permissive,none]"], environ={})
    spark = get_spark(config)
    # Warm-up: start the Python worker daemon and JIT the Arrow path, outside the measurement.
    spark.range(4000, numPartitions=4).mapInArrow(lambda batches: batches, "id long").count()
    meter = TreeCpuMeter()
    ledger = CpuLedger(meter)
    instrument_dedup(ledger)
    labels = {"crawl": "crawl", "curate": "curate", "refine": "gold", "quality": "quality_gate"}
    stages = [MeasuredStage(stage, labels.get(stage.name, "bookkeeping"), ledger) for stage in pipeline_stages()]
    started_cpu, started = meter.total(), time.perf_counter()
    summary = run_ingest(spark, config, [str(dataset)], stages=stages, echo=lambda line: print(line, file=sys.stderr))
    total_cpu, total_wall = meter.total() - started_cpu, time.perf_counter() - started
    meter.stop()
    spark.stop()
    gold_bytes = text_bytes(config.lake.table_path("gold.training_corpus"))
    ledger.cpu["bookkeeping"] = ledger.cpu.get("bookkeeping", 0.0) + total_cpu - sum(ledger.cpu.values())
    ledger.wall["bookkeeping"] = ledger.wall.get("bookkeeping", 0.0) + total_wall - sum(ledger.wall.values())
    counts = summary.counts
    return {
        "status": summary.status,
        "documents": counts.get("crawl.files", 0),
        "bytes": counts.get("crawl.bytes", 0),
        "gold_rows": counts.get("gold.rows", 0),
        "gold_tokens": counts.get("gold.tokens", 0),
        "gold_bytes": gold_bytes,
        "candidate_pairs": counts.get("refine.candidate_pairs", 0),
        "verified_pairs": counts.get("refine.verified_pairs", 0),
        "duplicates_dropped": counts.get("refine.dropped.exact_duplicate", 0)
        + counts.get("refine.dropped.near_duplicate", 0),
        "cpu_seconds": {stage: round(ledger.cpu.get(stage, 0.0), 2) for stage in STAGES},
        "wall_seconds": {stage: round(ledger.wall.get(stage, 0.0), 2) for stage in STAGES},
        "total_cpu_seconds": round(total_cpu, 2),
        "total_wall_seconds": round(total_wall, 2),
    }


def text_bytes(table_path: Path) -> int:
    """UTF-8 bytes of the ``text`` column of a Delta table's latest version (read with delta-rs)."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    texts = DeltaTable(str(table_path)).to_pyarrow_dataset().to_table(columns=["text"]).column("text")
    return int(pc.sum(pc.binary_length(texts)).as_py() or 0)


def run_size(files: list[tuple[str, Path]], workdir: Path, master: str, timeout: int) -> dict:
    dataset = workdir / f"corpus-{len(files)}" / "data.parquet"
    write_dataset(files, dataset)
    command = [sys.executable, __file__, "--child", str(dataset), "--lake", str(workdir / f"lake-{len(files)}"),
               "--master", master]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode:
        raise SystemExit(f"size {len(files)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- analysis


def stage_cost(run: dict, stage: str) -> float:
    return run["total_cpu_seconds"] if stage == "total" else run["cpu_seconds"][stage]


def log_slope(small: tuple[float, float], large: tuple[float, float]) -> float | None:
    """Log-log slope of cost against documents between two sizes (1.0 = linear)."""
    (n1, c1), (n2, c2) = small, large
    if min(n1, n2, c1, c2) <= 0 or n1 == n2:
        return None
    return round(math.log(c2 / c1) / math.log(n2 / n1), 3)


def marginal(smaller: dict, larger: dict, stage: str) -> float:
    """CPU-seconds per document added between two sizes: the cost without the fixed part."""
    return (stage_cost(larger, stage) - stage_cost(smaller, stage)) / (larger["documents"] - smaller["documents"])


def marginal_exponent(sizes: list[dict], stage: str) -> float | None:
    """Growth exponent of the variable cost, from the marginal cost of the last two doublings.

    If the variable cost grows as n^e, the marginal cost per document grows as n^(e-1); the two
    last segments' midpoints are a factor (n3+n2)/(n2+n1) apart (2 for doublings).
    """
    if len(sizes) < 3:
        return None
    first, second = marginal(sizes[-3], sizes[-2], stage), marginal(sizes[-2], sizes[-1], stage)
    if first <= 0 or second <= 0:
        return None  # a cost that did not grow between sizes: fixed, or lost in noise
    spacing = (sizes[-1]["documents"] + sizes[-2]["documents"]) / (sizes[-2]["documents"] + sizes[-3]["documents"])
    return round(1 + math.log(second / first) / math.log(spacing), 3)


def linear_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (fixed, per_document) of cost = fixed + per_document × documents."""
    n = len(points)
    mean_x, mean_y = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0
    return mean_y - slope * mean_x, slope


def spread(values: list[float]) -> float:
    """Largest relative deviation from the mean."""
    mean = sum(values) / len(values)
    return max(abs(x / mean - 1) for x in values) if mean else float("inf")


def analyse(runs: dict[str, dict]) -> dict:
    sizes = list(runs.values())
    per_doc = [run["total_cpu_seconds"] / run["documents"] for run in sizes]
    deviation = spread(per_doc)
    fixed, per_document = linear_fit([(run["documents"], run["total_cpu_seconds"]) for run in sizes])
    variable_per_doc = [(run["total_cpu_seconds"] - fixed) / run["documents"] for run in sizes]
    segments = {f"{a['documents']}->{b['documents']}": round(marginal(a, b, "total"), 5)
                for a, b in zip(sizes, sizes[1:], strict=False)}
    stages = (*STAGES, "total")
    return {
        "per_document_cpu_seconds": [round(x, 5) for x in per_doc],
        "per_document_max_deviation_from_mean": round(deviation, 3),
        "flat_within_20pct": deviation <= 0.20,
        "marginal_cpu_seconds_per_added_document": segments,
        "linear_fit": {"fixed_cpu_seconds_per_run": round(fixed, 2),
                       "cpu_seconds_per_document": round(per_document, 5)},
        "per_document_cpu_seconds_without_fixed_part": [round(x, 5) for x in variable_per_doc],
        "without_fixed_part_max_deviation_from_mean": round(spread(variable_per_doc), 3),
        "per_document_cpu_seconds_by_stage": {
            stage: [round(stage_cost(run, stage) / run["documents"], 5) for run in sizes] for stage in stages},
        "log_slope_between_two_largest": {
            stage: log_slope((sizes[-2]["documents"], stage_cost(sizes[-2], stage)),
                             (sizes[-1]["documents"], stage_cost(sizes[-1], stage))) for stage in stages},
        "marginal_growth_exponent": {stage: marginal_exponent(sizes, stage) for stage in stages},
        "pairs_growth_exponent": {key: pair_growth(sizes, key) for key in ("candidate_pairs", "verified_pairs")},
    }


def pair_growth(sizes: list[dict], key: str) -> float | None:
    """Log-log slope of a pair count against documents from the smallest to the largest size."""
    return log_slope((sizes[0]["documents"], sizes[0][key]), (sizes[-1]["documents"], sizes[-1][key]))


def per_core_rates(sizes: list[dict]) -> dict:
    """Per stage: MB per CPU-second (one core busy one second) of the variable cost, and the average.

    The variable rate is the slope of a least-squares line through (MB, CPU-seconds) of every
    size: it leaves out what a run costs whatever its size (Spark jobs, Delta commits, Great
    Expectations set-up), which is the rate a much larger corpus runs at, and uses all sizes so
    one noisy run weighs less than in a two-point difference. Where a stage's cost did not grow
    (slope not positive), the average rate of the largest size stands in (slower, so
    predictions stay conservative).
    """
    large = sizes[-1]
    rates = {}
    for stage in STAGES:
        _, cpu_per_mb = linear_fit([(run["bytes"] / 1e6, run["cpu_seconds"][stage]) for run in sizes])
        cpu = large["cpu_seconds"][stage]
        average = large["bytes"] / 1e6 / cpu if cpu > 0 else None
        rates[stage] = {
            "mb_per_core_second": round(1 / cpu_per_mb, 4) if cpu_per_mb > 0 else (round(average, 4) if average else None),
            "rate_kind": "variable (least-squares slope over all sizes)" if cpu_per_mb > 0 else "average at largest",
            "mb_per_core_second_average": round(average, 4) if average else None,
            "docs_per_core_second_average": round(large["documents"] / cpu, 2) if cpu > 0 else None,
            "cpu_seconds_by_size": [run["cpu_seconds"][stage] for run in sizes],
        }
    return rates


# Stages whose work grows with candidate pairs rather than documents: buckets, verification, components.
PAIR_DRIVEN = ("dedup_lsh_components",)


def machine_description() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, Python {platform.python_version()}"


def write_rates(result: dict, command: str, path: Path | None = None) -> Path:
    from data_platform.capacity import RATES_PATH, update_rates

    sizes = list(result["runs"].values())
    largest = sizes[-1]
    measured = {
        "date": dt.date.today().isoformat(),
        "machine": machine_description(),
        "command": command,
        "corpus": f"{largest['documents']} real files, {largest['bytes'] / 1e6:.1f} MB (installed packages)",
    }
    entries = {}
    pairs_exponent = pair_growth(sizes, "candidate_pairs")
    for stage, rate in per_core_rates(sizes).items():
        if stage == "bookkeeping":
            continue
        # CPU-seconds at these sizes are mostly fixed cost and noise (see the analysis), so the
        # growth a stage is flagged for comes from what drives its work: candidate pairs for the
        # LSH/verification/components stage, documents (linear by construction) for the others.
        exponent = pairs_exponent if stage in PAIR_DRIVEN else None
        entries[stage] = {**rate, "growth_exponent": exponent,
                          "growth_basis": "candidate pairs vs documents" if exponent else "per-document work",
                          "cpu_log_slope_two_largest": result["analysis"]["log_slope_between_two_largest"].get(stage),
                          "measured_bytes": largest["bytes"], **measured}
    entries["corpus_shape"] = {"bytes_per_document": round(largest["bytes"] / largest["documents"], 1),
                               "gold_fraction_of_bytes": round(largest["gold_bytes"] / largest["bytes"], 4),
                               **measured}
    return update_rates(entries, path or RATES_PATH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=1000, help="documents at 1x (default 1000)")
    parser.add_argument("--multiples", default="1,2,4,8", help="corpus sizes as multiples of --base")
    parser.add_argument("--master", default="local[2]", help="Spark master of each run (default local[2])")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed for one size")
    parser.add_argument("--write-rates", action="store_true", help="store the largest size's rates in rates.json")
    parser.add_argument("--from-result", type=Path, help="re-analyse a saved result of this benchmark (no new run)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--lake", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.lake, args.master)), flush=True)
        # Leave without interpreter teardown: native threads (gRPC, tokenizers) loaded by the run
        # can abort the process during finalisation ("terminate called without an active exception").
        os._exit(0)
    if args.from_result:  # re-analyse a saved run (and write its rates), without measuring again
        saved = json.loads(args.from_result.read_text())
        saved["analysis"] = analyse(saved["runs"])
        if args.write_rates:
            command = (f"{saved.get('command', 'benchmarks/scaling.py')} (measured); rates derived by "
                       f".venv/bin/python benchmarks/scaling.py --from-result RESULT.json --write-rates")
            saved["rates_written"] = str(write_rates(saved, command))
        print(json.dumps(saved, indent=2))
        return
    multiples = [int(x) for x in args.multiples.split(",")]
    files = corpus_files(args.base * max(multiples))
    cores = int(args.master[6:-1]) if args.master[6:-1].isdigit() else os.cpu_count()
    result: dict = {"benchmark": "scaling", "base_documents": args.base, "master": args.master, "cores": cores,
                    "corpus": "distinct real files of installed packages (no copies), nested samples",
                    "load_average_1m_start": round(os.getloadavg()[0], 2), "runs": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codemill-scaling-") as workdir:
        for multiple in multiples:
            run = run_size(files[: args.base * multiple], Path(workdir), args.master, args.timeout)
            result["runs"][f"{multiple}x"] = run
            print(json.dumps({f"{multiple}x": run}), file=sys.stderr)
    result["analysis"] = analyse(result["runs"])
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    result["command"] = ".venv/bin/python benchmarks/scaling.py " + shlex.join(sys.argv[1:])
    if args.write_rates:
        result["rates_written"] = str(write_rates(result, result["command"].strip()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
