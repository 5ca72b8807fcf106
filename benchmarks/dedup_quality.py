"""Near-dedup quality on real vendored code: the platform's clusters against brute-force truth.

Corpus (real near-duplicates at different versions, never synthetic): every ``*.py`` file of
two pip wheels and two setuptools versions, with the libraries they vendor
(``pip/_vendor/requests``, ``setuptools/_vendor/packaging`` …), beside the standalone copies
of those libraries installed in this environment (requests, urllib3, packaging, rich,
pygments, idna, certifi, msgpack, …). Wheels missing from the cache are fetched once with
``pip download`` (PyPI), into ``--cache`` (default ``~/.cache/codemill/bench-wheels``);
after that the benchmark runs offline.

Truth: exact Jaccard over ALL pairs, in a tokenisation the platform does not use
(lower-cased alphanumeric words, sets of word 5-grams), threshold 0.7, by a sparse
document × 5-gram matrix product. The platform is the real refine stage on Spark (curated
silver rows → exact + MinHash-LSH + verification + connected components + cluster
verification); its prediction is every pair of documents that share ``dup_cluster_id``.
The peer is datasketch ``MinHashLSH`` at the same threshold and permutations, in the same
process, on the truth's own 5-gram sets (its candidate pairs). An empty prediction scores 0.

    .venv/bin/python benchmarks/dedup_quality.py [--threshold 0.7] [--num-perm 256] [--master local[2]]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WHEELS = ("pip==25.3", "pip==24.0", "setuptools==70.3.0")
# Standalone libraries of this environment that pip or setuptools vendor.
STANDALONE = (
    "setuptools", "requests", "urllib3", "packaging", "idna", "certifi", "charset_normalizer", "rich",
    "pygments", "msgpack", "importlib_metadata", "zipp", "truststore", "typing_extensions.py",
)
WORD_RE = re.compile(r"[a-z0-9]+")


# --------------------------------------------------------------------------- corpus


def _wheel(spec: str, cache: Path) -> Path:
    """The cached wheel of ``spec`` (``name==version``), downloaded with pip when missing."""
    name, version = spec.split("==")
    found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
        pip = [shutil.which("pip3") or shutil.which("pip") or "pip"]
    subprocess.run([*pip, "download", spec, "--no-deps", "--only-binary=:all:", "-d", str(cache)], check=True,
                   capture_output=True)
    return sorted(cache.glob(f"{name}-{version}-*.whl"))[0]


def _py_files(root: Path, prefix: str) -> list[tuple[str, str, str]]:
    """(source, path, text) of every readable .py file under ``root``."""
    files = []
    for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        relative = path.relative_to(root.parent).as_posix()
        files.append((prefix, relative, text))
    return files


def load_corpus(cache: Path, work: Path, max_bytes: int = 1_000_000) -> list[tuple[str, str, str]]:
    """(source, path, text) of the whole corpus, deterministic order."""
    docs = []
    for spec in WHEELS:
        target = work / spec.replace("==", "-")
        with zipfile.ZipFile(_wheel(spec, cache)) as archive:
            archive.extractall(target)
        package = target / spec.split("==")[0]
        docs += _py_files(package, spec.replace("==", "-"))
    site = Path(sysconfig.get_paths()["purelib"])
    for name in STANDALONE:
        if (site / name).exists():
            docs += _py_files(site / name, f"site-{name.removesuffix('.py')}")
    return [d for d in docs if 0 < len(d[2].encode()) <= max_bytes]


# --------------------------------------------------------------------------- truth


def word_shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    """Sets of k consecutive lower-cased alphanumeric words (one shingle when fewer words)."""
    words = WORD_RE.findall(text.lower())
    if len(words) < k:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def true_pairs(shingles: list[set], threshold: float) -> tuple[set[tuple[int, int]], dict]:
    """Every pair with exact Jaccard >= threshold, by a sparse doc x shingle product; and all sims."""
    from scipy import sparse

    vocabulary: dict[tuple, int] = {}
    rows, cols = [], []
    for doc, values in enumerate(shingles):
        ids = [vocabulary.setdefault(v, len(vocabulary)) for v in values]
        rows.extend([doc] * len(ids))
        cols.extend(ids)
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(shingles), len(vocabulary))
    )
    sizes = np.array([len(s) for s in shingles], dtype=np.float64)
    inter = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    sims = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    similarity = dict(zip(zip(inter.row.tolist(), inter.col.tolist(), strict=True), sims.tolist(), strict=True))
    keep = sims >= threshold - 1e-12
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist(), strict=True)), similarity


def scores(predicted: set, truth: set) -> dict:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0  # an empty answer scores 0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "predicted_pairs": len(predicted), "true_positive_pairs": hits}


def pairs_of_clusters(labels: list) -> set[tuple[int, int]]:
    """Every pair of documents that share a (non-null) cluster label."""
    members: dict = {}
    for doc, label in enumerate(labels):
        if label is not None:
            members.setdefault(label, []).append(doc)
    return {(a, b) for group in members.values() for i, a in enumerate(group) for b in group[i + 1 :]}


# --------------------------------------------------------------------------- platform and peer


def platform_clusters(docs, threshold: float, num_perm: int, master: str) -> tuple[list, list[str], float]:
    """Curate the corpus into silver.files rows, run the refine stage, read dup_cluster_id per doc."""
    from deltalake import DeltaTable

    from data_platform import lake
    from data_platform.ingest.curate import curate_file
    from data_platform.refine import refine
    from data_platform.spark import get_spark
    from serving.config import load_config

    root = tempfile.mkdtemp(prefix="codemill-dedup-bench-")
    config = load_config(overrides=[f"lake.root={root}", f"spark.master={master}", "spark.shuffle_partitions=4",
                                    f"dedup.threshold={threshold}", f"dedup.num_perm={num_perm}",
                                    "decontamination.enabled=false", "quality.enabled=false"], environ={})
    from datetime import UTC, datetime

    from pyspark.sql import types as T

    from data_platform.contracts import contract

    rows, now = [], datetime.now(UTC)
    for source, path, text in docs:
        raw = text.encode()
        curated = curate_file(source, source, f"{source}-head", path, raw, hashlib.sha1(raw).hexdigest(), "MIT")
        rows.append({**curated.silver, "run_id": "bench", "updated_at": now})
    spark = get_spark(config)
    try:
        fields = contract("silver.files").spark_schema().fields
        schema = T.StructType([T.StructField(f.name, f.dataType, True) for f in fields])
        frame = spark.createDataFrame([tuple(row.get(f.name) for f in fields) for row in rows], schema)
        lake.append(spark, config, "silver.files", frame)
        started = time.perf_counter()
        summary = refine(spark, config, "bench")
        seconds = time.perf_counter() - started
    finally:
        spark.stop()
    silver = DeltaTable(str(config.lake.table_path("silver.files"))).to_pyarrow_table(
        columns=["file_id", "text", "dup_cluster_id"])
    by_id = {r["file_id"]: r for r in silver.to_pylist()}
    ids = [row["file_id"] for row in rows]
    return [by_id[i]["dup_cluster_id"] for i in ids], [by_id[i]["text"] for i in ids], seconds, summary


def datasketch_pairs(shingles: list[set], threshold: float, num_perm: int) -> tuple[set, float]:
    from datasketch import MinHash, MinHashLSH

    started = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    minhashes = []
    for doc, values in enumerate(shingles):
        m = MinHash(num_perm=num_perm)
        m.update_batch([" ".join(v).encode() for v in values])
        minhashes.append(m)
        lsh.insert(doc, m)
    pairs = set()
    for doc, m in enumerate(minhashes):
        pairs.update((min(doc, other), max(doc, other)) for other in lsh.query(m) if other != doc)
    return pairs, time.perf_counter() - started


def _false_pair_profile(false_pairs: set, similarity: dict) -> dict:
    values = np.array([similarity.get(p, 0.0) for p in false_pairs])
    if not len(values):
        return {}
    return {"count": len(values), "true_jaccard_min": round(float(values.min()), 3),
            "true_jaccard_median": round(float(np.median(values)), 3),
            "true_jaccard_max": round(float(values.max()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--num-perm", type=int, default=256)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/codemill/bench-wheels").expanduser())
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    with tempfile.TemporaryDirectory() as work:
        docs = load_corpus(args.cache, Path(work))
    labels, texts, refine_seconds, summary = platform_clusters(docs, args.threshold, args.num_perm, args.master)
    # Truth on exactly the texts the platform clustered (curation redacts PII in a few files).
    shingles = [word_shingles(text or "") for text in texts]
    started = time.perf_counter()
    truth, similarity = true_pairs(shingles, args.threshold)
    truth_seconds = time.perf_counter() - started
    predicted = pairs_of_clusters(labels)
    peer, peer_seconds = datasketch_pairs(shingles, args.threshold, args.num_perm)
    result = {
        "benchmark": "dedup_quality",
        "corpus": {
            "documents": len(docs),
            "megabytes": round(sum(len(t.encode()) for _, _, t in docs) / 1e6, 2),
            "sources": sorted({s for s, _, _ in docs}),
            "description": "pip 25.3 + pip 24.0 + setuptools 70.3.0 wheels (with _vendor) and this environment's "
                           "setuptools and standalone copies of the vendored libraries, *.py",
        },
        "truth": {"tokenisation": "lower-cased [a-z0-9]+ words, 5-gram sets", "threshold": args.threshold,
                  "pairs": len(truth), "seconds": round(truth_seconds, 2)},
        "num_perm": args.num_perm,
        "codemill": {**scores(predicted, truth), "clusters_with_copies": summary.duplicate_clusters,
                     "refine_seconds": round(refine_seconds, 1),
                     "false_pairs": _false_pair_profile(predicted - truth, similarity)},
        "datasketch_minhashlsh": {**scores(peer, truth), "seconds": round(peer_seconds, 1),
                                  "false_pairs": _false_pair_profile(peer - truth, similarity)},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
