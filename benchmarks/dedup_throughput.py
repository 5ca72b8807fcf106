"""Near-dedup throughput: documents per CPU-second at 1x, 2x, 4x and 8x corpus size.

Measures the work per document of signatures + LSH bucketing + candidate verification +
connected components, in one process, for codemill's row functions (the ones the Spark
stage runs inside mapInArrow; components here via scipy, as a stand-in for the Spark
large-star/small-star job whose cost is dominated by Spark's fixed overheads at this size)
and for datasketch (MinHash with its default sha1 hashing + MinHashLSH), on the same real
code files and the same shingle sets. datatrove's full pipeline (its own tokenizer, 1 task)
runs in its own venv when one is given.

Truth: every pair with Jaccard >= 0.7 over 5-word shingles, found by brute force with
Python's regex and sets (bench_corpus.exact_pairs, no code shared with either side). Each
side's pairs are scored against it; ``ratio`` is the speedup at the largest size, or 0 when
codemill recalls under 90% of the true pairs or under datasketch's recall.

    .venv/bin/python benchmarks/dedup_throughput.py [--base 1000] [--sizes 1,2,4,8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_corpus import (  # noqa: E402
    datatrove_result,
    exact_pairs,
    load_corpus,
    lsh_candidates,
    pair_scores,
    removed_documents,
)

from data_platform.dedup.jaccard import jaccard  # noqa: E402
from data_platform.dedup.lsh import bands_rows_for, optimal_bands_rows  # noqa: E402
from data_platform.dedup.minhash import signature  # noqa: E402
from data_platform.dedup.shingles import shingle_hashes  # noqa: E402

THRESHOLD = 0.7
NUM_PERM = 256


def codemill_run(texts: list[str]) -> tuple[dict, set]:
    start = time.process_time()
    shingles = [shingle_hashes(text, 5) for text in texts]
    signatures = [signature(s, NUM_PERM) for s in shingles]
    t_sig = time.process_time()
    bands, rows = bands_rows_for(THRESHOLD, NUM_PERM, "exact", None, None)
    candidates = lsh_candidates(signatures, bands, rows)
    pairs = {(a, b) for a, b in candidates if jaccard(shingles[a], shingles[b]) >= THRESHOLD}
    removed = removed_documents(pairs, len(texts))
    cpu = time.process_time() - start
    return {
        "cpu_s": round(cpu, 2),
        "docs_per_cpu_s": round(len(texts) / cpu, 1),
        "signature_share": round((t_sig - start) / cpu, 2),
        "candidates": len(candidates),
        "removed": len(removed),
    }, pairs


def datasketch_run(texts: list[str]) -> tuple[dict, set]:
    from datasketch import MinHash, MinHashLSH

    start = time.process_time()
    # datasketch takes the same shingles, each hashed by its default sha1_hash32.
    shingles = [shingle_hashes(text, 5) for text in texts]
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    minhashes = []
    for doc, values in enumerate(shingles):
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch([v.to_bytes(4, "little") for v in values.tolist()])
        lsh.insert(doc, m)
        minhashes.append(m)
    pairs = set()
    for doc, m in enumerate(minhashes):
        pairs.update((min(doc, o), max(doc, o)) for o in lsh.query(m) if o != doc)
    removed = removed_documents(pairs, len(texts))
    cpu = time.process_time() - start
    return {"cpu_s": round(cpu, 2), "docs_per_cpu_s": round(len(texts) / cpu, 1), "removed": len(removed)}, pairs


def judged_ratio(run: dict) -> float:
    """The 8x speedup, or 0 when codemill misses pairs the brute force finds.

    codemill must recall at least 90% of the true pairs and no fewer than datasketch does (less
    2 points): a faster run that finds less is not a faster dedup.
    """
    mine, peer = run["codemill"]["truth"]["recall"], run["datasketch"]["truth"]["recall"]
    if mine < 0.9 or mine < peer - 0.02:
        return 0.0
    return run["speedup_vs_datasketch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=1000, help="documents at 1x")
    parser.add_argument("--sizes", default="1,2,4,8")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and size; the least CPU counts")
    parser.add_argument("--datatrove-python", default="/tmp/dt-venv/bin/python")
    parser.add_argument(
        "--datatrove-max", type=int, default=2, help="largest multiple datatrove runs at (slow)"
    )
    args = parser.parse_args()
    multiples = [int(x) for x in args.sizes.split(",")]
    corpus = load_corpus(args.base * max(multiples))
    result: dict = {"base_documents": args.base, "corpus_documents": len(corpus), "runs": {}}
    ds_bands, ds_rows = optimal_bands_rows(THRESHOLD, NUM_PERM)
    # Warm up both (imports, permutation tables, scipy) so 1x is not charged for one-time costs.
    warm = [text for _, text in corpus[:50]]
    codemill_run(warm), datasketch_run(warm)
    for multiple in multiples:
        docs = corpus[: args.base * multiple]
        texts = [text for _, text in docs]
        run = {"documents": len(texts)}
        truth = exact_pairs(texts, THRESHOLD)
        for name, runner in (("codemill", codemill_run), ("datasketch", datasketch_run)):
            # The least CPU of a few runs: a 1x run is about a second, within a busy machine's noise.
            summary, pairs = min((runner(texts) for _ in range(args.repeat)), key=lambda done: done[0]["cpu_s"])
            run[name] = {**summary, "truth": pair_scores(pairs, truth)}
        run["speedup_vs_datasketch"] = round(
            run["codemill"]["docs_per_cpu_s"] / run["datasketch"]["docs_per_cpu_s"], 2
        )
        if multiple <= args.datatrove_max:
            dt = datatrove_result(docs, args.datatrove_python, ds_bands, ds_rows)
            if dt and "cpu_s" in dt:
                run["datatrove"] = {
                    "cpu_s": round(dt["cpu_s"], 2),
                    "docs_per_cpu_s": round(len(texts) / dt["cpu_s"], 1),
                }
            else:
                run["datatrove"] = dt.get("error") if dt else "not available"
        result["runs"][f"{multiple}x"] = run
        print(json.dumps({f"{multiple}x": run}), file=sys.stderr)
    result["ratio"] = judged_ratio(result["runs"][f"{max(multiples)}x"])
    rates = [r["codemill"]["docs_per_cpu_s"] for r in result["runs"].values()]
    result["codemill_rate_spread"] = round(max(rates) / min(rates) - 1, 3)
    result["per_document_cost_flat_within_20pct"] = result["codemill_rate_spread"] <= 0.2 * 1.0001
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
