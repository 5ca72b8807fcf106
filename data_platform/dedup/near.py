"""Near-dedup building blocks in Spark: MinHash signatures, LSH buckets, verified pairs.

Nodes are distinct contents (``exact_dup_key``), not files: exact duplicates share a node, so
exact and near dedup come out of one clustering, and a content's MinHash signature is computed
once and stored in ``silver.minhash`` for every later run. ``dedup.clustering`` puts the
blocks together; ``dedup.incremental`` stores bands and pairs so a run bands only new contents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from data_platform.dedup.jaccard import jaccard
from data_platform.dedup.lsh import band_keys
from data_platform.dedup.minhash import estimated_jaccard, signature
from data_platform.dedup.shingles import shingle_hashes
from data_platform.settings.refine import DedupSettings

SCHEME = "affine32"
TOKENIZER = "words1"  # bump when tokenisation or shingle hashing changes: stored signatures go stale


def params_key(settings: DedupSettings) -> str:
    """What a stored signature depends on; a change forces recomputation."""
    return f"{SCHEME}-{TOKENIZER}-p{settings.num_perm}-k{settings.shingle_size}-s{settings.seed}"


# --------------------------------------------------------------------------- Arrow batch functions


def signature_batches(num_perm: int, shingle_size: int, seed: int):
    """mapInArrow function: (exact_dup_key, text) → (exact_dup_key, signature, shingle_count)."""

    def run(batches):
        for batch in batches:
            signatures, counts = [], []
            for text in batch.column("text").to_pylist():
                shingles = shingle_hashes(text or "", shingle_size)
                signatures.append(signature(shingles, num_perm, seed).astype("<u4").tobytes())
                counts.append(len(shingles))
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("exact_dup_key"),
                    pa.array(signatures, pa.binary()),
                    pa.array(counts, pa.int64()),
                ],
                names=["exact_dup_key", "signature", "shingle_count"],
            )

    return run


def band_batches(bands: int, rows: int):
    """mapInArrow function: (exact_dup_key, signature) → one (exact_dup_key, band, band_key) per band."""

    def run(batches):
        band_ids = np.arange(bands, dtype=np.int32)
        for batch in batches:
            keys_out, bands_out, hashes_out = [], [], []
            for key, sig in zip(
                batch.column("exact_dup_key").to_pylist(), batch.column("signature").to_pylist(), strict=True
            ):
                values = np.frombuffer(sig, dtype="<u4")
                keys_out.extend([key] * bands)
                bands_out.append(band_ids)
                hashes_out.append(band_keys(values, bands, rows))
            if not keys_out:
                continue
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(keys_out, pa.string()),
                    pa.array(np.concatenate(bands_out)),
                    pa.array(np.concatenate(hashes_out)),
                ],
                names=["exact_dup_key", "band", "band_key"],
            )

    return run


def _pairwise_batches(left: str, right: str, similarity):
    """mapInArrow function: (a, b, left, right) → (a, b, similarity(left, right))."""

    def run(batches):
        for batch in batches:
            pairs = zip(batch.column(left).to_pylist(), batch.column(right).to_pylist(), strict=True)
            sims = [similarity(x, y) for x, y in pairs]
            yield pa.RecordBatch.from_arrays(
                [batch.column("a"), batch.column("b"), pa.array(sims, pa.float64())],
                names=["a", "b", "similarity"],
            )

    return run


def exact_similarity_batches(shingle_size: int):
    """mapInArrow function: (a, b, text_a, text_b) → (a, b, similarity) by exact Jaccard."""
    return _pairwise_batches(
        "text_a", "text_b",
        lambda x, y: jaccard(shingle_hashes(x or "", shingle_size), shingle_hashes(y or "", shingle_size)),
    )


def estimated_similarity_batches():
    """mapInArrow function: (a, b, sig_a, sig_b) → (a, b, similarity) estimated from signatures."""
    return _pairwise_batches(
        "sig_a", "sig_b", lambda x, y: estimated_jaccard(np.frombuffer(x, "<u4"), np.frombuffer(y, "<u4"))
    )


# --------------------------------------------------------------------------- Spark stages


@dataclass
class SignatureUpdate:
    computed: int
    version: int | None


def update_signatures(spark, config, contents, settings: DedupSettings, run_id: str) -> SignatureUpdate:
    """Compute and MERGE signatures for contents not yet in silver.minhash with the current params.

    ``contents``: one row per exact_dup_key with its text.
    """
    from pyspark.sql import functions as F

    from data_platform import lake

    params = params_key(settings)
    table = lake.read_table(spark, config, "silver.minhash")
    stored = table.where(F.col("params") == params)
    missing = contents.join(stored.select("exact_dup_key"), "exact_dup_key", "left_anti")
    computed = missing.select("exact_dup_key", "text").mapInArrow(
        signature_batches(settings.num_perm, settings.shingle_size, settings.seed),
        "exact_dup_key string, signature binary, shingle_count bigint",
    )
    rows = computed.select(
        "*",
        F.lit(params).alias("params"),
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("updated_at"),
    ).persist()
    try:
        count = rows.count()
        version = None
        if count:
            # Appending is far cheaper than a MERGE and is exact unless signatures of other
            # params exist for these keys (after a params change): then replace them.
            stale = not table.where(F.col("params") != params).limit(1).isEmpty()
            version = (lake.merge if stale else lake.append)(spark, config, "silver.minhash", rows)
    finally:
        rows.unpersist()
    return SignatureUpdate(count, version)


def candidate_pairs(signatures, bands: int, rows: int, max_bucket_pairs: int):
    """Distinct (a, b) content pairs, a < b, that share at least one LSH band.

    A bucket with more members than ``max_bucket_pairs`` contributes a star around its
    smallest member instead of all pairs: the components come out the same, and a bucket of
    thousands of near-identical files cannot explode into millions of pairs.
    """
    from pyspark.sql import functions as F

    banded = signatures.select("exact_dup_key", "signature").mapInArrow(
        band_batches(bands, rows), "exact_dup_key string, band int, band_key bigint"
    )
    buckets = (
        banded.groupBy("band", "band_key")
        .agg(F.sort_array(F.collect_set("exact_dup_key")).alias("m"))
        .where(F.size("m") > 1)
    )
    small = (
        buckets.where(F.size("m") <= max_bucket_pairs)
        .select("m", F.posexplode("m").alias("i", "a"))
        .select("a", F.explode(F.expr("slice(m, i + 2, size(m))")).alias("b"))
    )
    large = buckets.where(F.size("m") > max_bucket_pairs).select(
        F.col("m")[0].alias("a"), F.explode(F.expr("slice(m, 2, size(m))")).alias("b")
    )
    return small.unionByName(large).where(F.col("a") < F.col("b")).distinct()


def verified_pairs(pairs, contents, signatures, settings: DedupSettings):
    """Candidate pairs whose similarity reaches the threshold, with that similarity."""
    from pyspark.sql import functions as F

    if settings.verify == "none":
        return pairs.select("a", "b", F.lit(None).cast("double").alias("similarity"))
    if settings.verify == "exact":
        texts = contents.select("exact_dup_key", "text")
        joined = (
            pairs.join(texts.withColumnRenamed("exact_dup_key", "a").withColumnRenamed("text", "text_a"), "a")
            .join(texts.withColumnRenamed("exact_dup_key", "b").withColumnRenamed("text", "text_b"), "b")
            .select("a", "b", "text_a", "text_b")
        )
        scored = joined.mapInArrow(
            exact_similarity_batches(settings.shingle_size), "a string, b string, similarity double"
        )
    else:
        sigs = signatures.select("exact_dup_key", "signature")
        joined = (
            pairs.join(
                sigs.withColumnRenamed("exact_dup_key", "a").withColumnRenamed("signature", "sig_a"), "a"
            )
            .join(sigs.withColumnRenamed("exact_dup_key", "b").withColumnRenamed("signature", "sig_b"), "b")
            .select("a", "b", "sig_a", "sig_b")
        )
        scored = joined.mapInArrow(estimated_similarity_batches(), "a string, b string, similarity double")
    return scored.where(F.col("similarity") >= settings.threshold)
