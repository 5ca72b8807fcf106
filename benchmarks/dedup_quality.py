"""Near-dedup quality on real code against exact all-pairs Jaccard, beside datasketch (and datatrove).

Corpus: Python files of several CPython standard libraries installed side by side (pyenv),
so the same module in different versions gives natural near-duplicates. Ground truth:
exact Jaccard of every pair of 5-token shingle sets from a sparse document × shingle
matrix product. Every method sees the same shingle sets, except datatrove, which runs its
own text normalisation on whitespace-separated words (its whole pipeline, in a separate
venv: datatrove 0.10.1 plus regex, tokenizers, orjson, which its MinHash pipeline imports but
does not declare; sha1 shingle hashing, as its xxhash wrapper fails with xxhash 3.x).

    .venv/bin/python benchmarks/dedup_quality.py [--docs 5000] [--threshold 0.7] [--datatrove-python PATH]

Prints one JSON object: pair precision/recall/F1 and removed-document precision/recall/F1
per method.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_platform.dedup.jaccard import jaccard  # noqa: E402
from data_platform.dedup.lsh import band_keys, bands_rows_for, optimal_bands_rows  # noqa: E402
from data_platform.dedup.minhash import estimated_jaccard, signature  # noqa: E402
from data_platform.dedup.shingles import shingle_hashes  # noqa: E402

STDLIB_GLOBS = ("/root/.pyenv/versions/3.*/lib/python3.*/**/*.py", f"{sys.prefix}/lib/python3.*/**/*.py")


def load_corpus(count: int, min_bytes: int = 300, max_bytes: int = 100_000) -> list[tuple[str, str]]:
    """(path, text) of ``count`` real code files, a deterministic pseudo-random sample."""
    paths = sorted({p for pattern in STDLIB_GLOBS for p in glob.glob(pattern, recursive=True)})
    paths = [p for p in paths if "site-packages" not in p and min_bytes <= os.path.getsize(p) <= max_bytes]
    paths.sort(key=lambda p: hashlib.sha1(p.encode()).hexdigest())
    docs = []
    for path in paths:
        try:
            docs.append((path, Path(path).read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
        if len(docs) == count:
            break
    return docs


def true_pairs(shingles: list[np.ndarray], threshold: float) -> set[tuple[int, int]]:
    """Every pair with exact Jaccard >= threshold, from a sparse doc x shingle product."""
    from scipy import sparse

    vocabulary: dict[int, int] = {}
    rows, cols = [], []
    for doc, values in enumerate(shingles):
        ids = [vocabulary.setdefault(int(v), len(vocabulary)) for v in values]
        rows.extend([doc] * len(ids))
        cols.extend(ids)
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(shingles), len(vocabulary))
    )
    sizes = np.array([len(s) for s in shingles], dtype=np.float64)
    inter = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    sims = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = sims >= threshold
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist(), strict=True))


def lsh_candidates(signatures: list[np.ndarray], bands: int, rows: int) -> set[tuple[int, int]]:
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for doc, sig in enumerate(signatures):
        for band, key in enumerate(band_keys(sig, bands, rows).tolist()):
            buckets[(band, key)].append(doc)
    pairs = set()
    for members in buckets.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs.add((a, b))
    return pairs


def removed_documents(pairs: set[tuple[int, int]], count: int) -> set[int]:
    """Members of each connected component except its smallest (the keeper)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not pairs:
        return set()
    a, b = np.array(list(pairs)).T
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    first: dict[int, int] = {}
    removed = set()
    for doc, label in enumerate(labels.tolist()):
        if label in first:
            removed.add(doc)
        else:
            first[label] = doc
    return removed


def scores(predicted: set, truth: set) -> dict[str, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "predicted": len(predicted),
    }


def datasketch_pairs(shingles: list[np.ndarray], num_perm: int, threshold: float) -> tuple[set, set, float]:
    """datasketch MinHash (its default sha1 hashing of each shingle) + MinHashLSH; raw and estimate-checked."""
    from datasketch import MinHash, MinHashLSH

    start = time.process_time()
    minhashes = []
    for values in shingles:
        m = MinHash(num_perm=num_perm)
        m.update_batch([v.to_bytes(4, "little") for v in values.tolist()])
        minhashes.append(m)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for doc, m in enumerate(minhashes):
        lsh.insert(doc, m)
    raw = set()
    for doc, m in enumerate(minhashes):
        raw.update((min(doc, other), max(doc, other)) for other in lsh.query(m) if other != doc)
    cpu = time.process_time() - start
    checked = {(a, b) for a, b in raw if minhashes[a].jaccard(minhashes[b]) >= threshold}
    return raw, checked, cpu


DATATROVE_RUNNER = r"""
import json, struct, sys, glob, os, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupSignature, MinhashDedupBuckets,
    MinhashDedupCluster)
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer

class WhitespaceTokenizer(WordTokenizer):
    # datatrove's English default needs NLTK/spaCy data downloads; split on whitespace instead.
    def word_tokenize(self, text):
        return text.split()
    def sent_tokenize(self, text):
        return text.splitlines()
    def span_tokenize(self, text):
        raise NotImplementedError

work, buckets, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = MinhashConfig(n_grams=5, num_buckets=buckets, hashes_per_bucket=rows, hash_config=HashConfig(precision=32, hash_fc="sha1"))
start = time.process_time()
for tasks, step in (
    (1, [JsonlReader(f"{work}/input", text_key="text", id_key="id"),
         MinhashDedupSignature(f"{work}/sigs", config=cfg, language=WhitespaceTokenizer())]),
    (buckets, [MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=cfg)]),  # one task per bucket
    (1, [MinhashDedupCluster(f"{work}/buckets", f"{work}/remove", config=cfg)]),
):
    LocalPipelineExecutor(pipeline=step, tasks=tasks, workers=1, logging_dir=f"{work}/logs/{len(os.listdir(work))}",
        skip_completed=False).run()
cpu = time.process_time() - start
pairs = []
for path in glob.glob(f"{work}/buckets/*.dups"):
    data = open(path, "rb").read()
    for f1, d1, f2, d2 in struct.iter_unpack("<4I", data):
        pairs.append((min(d1, d2), max(d1, d2)))
removed = []
for path in glob.glob(f"{work}/remove/*.remove"):
    removed += [x[0] for x in struct.iter_unpack("<I", open(path, "rb").read())]
print(json.dumps({"pairs": pairs, "removed": removed, "cpu_s": cpu}))
"""


def datatrove_result(docs: list[tuple[str, str]], python: str, bands: int, rows: int) -> dict | None:
    """Run datatrove's MinHash pipeline (1 task) in its own interpreter; None when unavailable."""
    if not python or not Path(python).exists():
        return None
    with tempfile.TemporaryDirectory() as work:
        os.makedirs(f"{work}/input")
        with open(f"{work}/input/docs.jsonl", "w") as handle:
            for doc, (_, text) in enumerate(docs):
                handle.write(json.dumps({"id": str(doc), "text": text}) + "\n")
        runner = Path(work) / "runner.py"
        runner.write_text(DATATROVE_RUNNER)
        done = subprocess.run(
            [python, str(runner), work, str(bands), str(rows)], capture_output=True, text=True
        )
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--num-perm", type=int, default=256)
    parser.add_argument("--datatrove-python", default="/tmp/dt-venv/bin/python")
    args = parser.parse_args()

    docs = load_corpus(args.docs)
    shingles = [shingle_hashes(text, 5) for _, text in docs]
    start = time.perf_counter()
    truth = true_pairs(shingles, args.threshold)
    truth_seconds = time.perf_counter() - start
    truth_removed = removed_documents(truth, len(docs))

    bands, rows = bands_rows_for(args.threshold, args.num_perm, "exact", None, None)
    signatures = [signature(s, args.num_perm) for s in shingles]
    candidates = lsh_candidates(signatures, bands, rows)
    ours_exact = {(a, b) for a, b in candidates if jaccard(shingles[a], shingles[b]) >= args.threshold}
    ours_estimate = {
        (a, b) for a, b in candidates if estimated_jaccard(signatures[a], signatures[b]) >= args.threshold
    }
    ds_raw, ds_checked, _ = datasketch_pairs(shingles, args.num_perm, args.threshold)
    ds_bands, ds_rows = optimal_bands_rows(args.threshold, args.num_perm)

    methods = {
        f"codemill (LSH {bands}x{rows}, exact verification)": ours_exact,
        f"codemill (LSH {bands}x{rows}, MinHash-estimate verification)": ours_estimate,
        f"datasketch MinHashLSH ({ds_bands}x{ds_rows})": ds_raw,
        f"datasketch MinHashLSH ({ds_bands}x{ds_rows}) + estimated-Jaccard check": ds_checked,
    }
    result = {
        "corpus": {
            "documents": len(docs),
            "source": "CPython standard libraries (pyenv versions), *.py 300 B-100 KB",
            "mean_shingles": round(float(np.mean([len(s) for s in shingles])), 1),
        },
        "threshold": args.threshold,
        "num_perm": args.num_perm,
        "ground_truth": {
            "pairs": len(truth),
            "removed_documents": len(truth_removed),
            "seconds": round(truth_seconds, 2),
        },
        "candidates_codemill": len(candidates),
        "methods": {
            name: {
                "pairs": scores(pairs, truth),
                "removed_documents": scores(removed_documents(pairs, len(docs)), truth_removed),
            }
            for name, pairs in methods.items()
        },
    }
    dt = datatrove_result(docs, args.datatrove_python, ds_bands, ds_rows)
    if dt is None:
        result["datatrove"] = "not available (no interpreter with datatrove at --datatrove-python)"
    elif "error" in dt:
        result["datatrove"] = f"failed: {dt['error']}"
    else:
        dt_pairs = set(map(tuple, dt["pairs"]))
        result["methods"][f"datatrove MinHash pipeline ({ds_bands}x{ds_rows}, whitespace words)"] = {
            "pairs": scores(dt_pairs, truth),
            "removed_documents": scores(set(dt["removed"]), truth_removed),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
