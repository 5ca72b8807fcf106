"""Helpers shared by the dedup and PII benchmarks: a real-code sample, LSH buckets, keepers, datatrove.

The standard-library sample is the CPython modules of the pyenv versions installed here (and
this interpreter's), a deterministic pseudo-random choice of files.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_platform.dedup.lsh import band_keys  # noqa: E402

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


def word_shingles(text: str, k: int = 5) -> frozenset:
    """k-word shingles as tuples of words, from Python's regex engine: no hashing, no numpy.

    An independent re-statement of the dedup definition (runs of word characters, ASCII
    case-folded), so the truth below shares no code with the pipeline it judges.
    """
    words = [w.lower() if w.isascii() else w for w in re.findall(r"\w+", text)]
    return frozenset(tuple(words[i : i + k]) for i in range(max(len(words) - k + 1, 0)))


def exact_pairs(texts: list[str], threshold: float) -> set[tuple[int, int]]:
    """Every pair with Jaccard >= threshold, by brute force over all pairs.

    Only pairs whose set sizes could still reach the threshold are compared
    (|A ∩ B| / |A ∪ B| <= min/max): an exact bound, not a heuristic.
    """
    sets = [word_shingles(text) for text in texts]
    order = sorted(range(len(sets)), key=lambda doc: len(sets[doc]))
    pairs = set()
    for position, a in enumerate(order):
        size_a = len(sets[a])
        for b in order[position + 1 :]:
            size_b = len(sets[b])
            if size_a < threshold * size_b:
                break
            shared = len(sets[a] & sets[b])
            union = size_a + size_b - shared
            if union and shared / union >= threshold:
                pairs.add((min(a, b), max(a, b)))
    return pairs


def pair_scores(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict:
    """Recall and precision of found pairs against the brute-force truth; nothing found scores 0."""
    hit = len(found & truth)
    return {
        "true_pairs": len(truth),
        "found_pairs": len(found),
        "recall": round(hit / len(truth), 4) if truth else 1.0,
        "precision": round(hit / len(found), 4) if found else 0.0,
    }


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
