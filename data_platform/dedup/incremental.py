"""Incremental LSH: bands and verified pairs are stored, so a run touches only contents it has not seen.

A content is *banded* once (``silver.minhash_bands``); its candidates are the members of the
stored buckets its band keys fall into, and only those pairs are verified and stored
(``silver.near_dup_pairs``). Components are then built from every stored pair whose two
contents are still in silver. Adding N files to a corpus of M therefore costs N signatures,
N x bands bucket lookups and the pairs those hit, not a re-banding of M.

Write order makes a killed run safe to repeat: pairs are written before the bands that mark
their contents as seen, so a crash between the two only verifies those pairs again (stored
pairs are read distinct).

Buckets larger than ``max_bucket_pairs`` link members to the bucket's smallest key only, as a
full run does. A new smallest key links to every member, as a full run's star would; the old
star's stored pairs stay too, so such a bucket can keep more verified pairs than a full run
(decision 0182).
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.dedup.near import band_batches, params_key, verified_pairs
from data_platform.settings.refine import DedupSettings

BANDS_TABLE = "silver.minhash_bands"
PAIRS_TABLE = "silver.near_dup_pairs"


def lsh_key(settings: DedupSettings, bands: int, rows: int) -> str:
    """What a stored band key depends on: the signature parameters and the banding."""
    return f"{params_key(settings)}-b{bands}r{rows}"


def pair_criterion(settings: DedupSettings, bands: int, rows: int) -> str:
    """What a stored verified pair depends on: banding, verification, threshold, star size."""
    return f"{lsh_key(settings, bands, rows)}-{settings.verify}-t{settings.threshold}-m{settings.max_bucket_pairs}"


@dataclass
class IncrementalPairs:
    edges: object  # DataFrame(a, b, similarity): every stored pair among current contents
    banded: int  # contents banded for the first time this run
    candidate_pairs: int  # candidates involving a newly banded content
    new_pairs: int  # of those, verified and stored
    versions: dict[str, int]


def _drop_other_criteria(spark, config, name: str, column: str, current: str) -> None:
    """A changed banding or criterion makes stored rows useless: delete them (once)."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from data_platform import lake

    if not lake.read_table(spark, config, name).where(F.col(column) != current).limit(1).isEmpty():
        DeltaTable.forPath(spark, str(config.lake.table_path(name))).delete(F.col(column) != current)


def new_bands(spark, config, signatures, lsh: str, bands: int, rows: int):
    """Band rows (exact_dup_key, band, band_key) of current contents with none stored for ``lsh``."""
    from pyspark.sql import functions as F

    from data_platform import lake

    stored = lake.read_table(spark, config, BANDS_TABLE).where(F.col("lsh") == lsh).select("exact_dup_key")
    unseen = signatures.join(stored.distinct(), "exact_dup_key", "left_anti")
    return unseen.select("exact_dup_key", "signature").mapInArrow(
        band_batches(bands, rows), "exact_dup_key string, band int, band_key bigint"
    )


def fresh_candidate_pairs(fresh, stored, max_bucket_pairs: int):
    """Distinct (a, b), a < b, sharing a bucket, where at least one of the two is fresh.

    ``fresh``: band rows of contents banded this run; ``stored``: band rows of the other
    current contents. Only buckets a fresh key falls into are read. A bucket over
    ``max_bucket_pairs`` members links each fresh member to the bucket's smallest key, and a
    fresh smallest key to every member.
    """
    from pyspark.sql import functions as F

    touched = fresh.select("band", "band_key").distinct()
    members = stored.join(touched, ["band", "band_key"]).withColumn("fresh", F.lit(False)).unionByName(
        fresh.withColumn("fresh", F.lit(True))
    )
    buckets = (
        members.groupBy("band", "band_key")
        .agg(
            F.sort_array(F.collect_set("exact_dup_key")).alias("m"),
            F.collect_set(F.when(F.col("fresh"), F.col("exact_dup_key"))).alias("f"),
        )
        .where(F.size("m") > 1)
    )
    small = (
        buckets.where(F.size("m") <= max_bucket_pairs)
        .select("m", F.explode("f").alias("x"))
        .select("x", F.explode("m").alias("y"))
    )
    crowded = buckets.where(F.size("m") > max_bucket_pairs)
    spokes = crowded.select(F.explode("f").alias("x"), F.col("m")[0].alias("y"))
    # A fresh key that is the bucket's smallest becomes the star's centre, as in a full run.
    centre = crowded.where(F.array_contains("f", F.col("m")[0])).select(
        F.col("m")[0].alias("x"), F.explode("m").alias("y"))
    pairs = small.unionByName(spokes).unionByName(centre).where(F.col("x") != F.col("y"))
    return pairs.select(F.least("x", "y").alias("a"), F.greatest("x", "y").alias("b")).distinct()


def stored_pairs(spark, config, keys, criterion: str):
    """Stored verified pairs of ``criterion`` whose two contents are both in ``keys``."""
    from pyspark.sql import functions as F

    from data_platform import lake

    current = keys.select("exact_dup_key")
    return (
        lake.read_table(spark, config, PAIRS_TABLE)
        .where(F.col("criterion") == criterion)
        .join(current.withColumnRenamed("exact_dup_key", "a"), "a", "left_semi")
        .join(current.withColumnRenamed("exact_dup_key", "b"), "b", "left_semi")
        .select("a", "b", "similarity")
        .dropDuplicates(["a", "b"])
    )


def incremental_pairs(spark, config, contents, signatures, settings: DedupSettings, bands: int, rows: int,
                      run_id: str) -> IncrementalPairs:
    """Band and verify what is new, store it, and return every verified pair among current contents.

    ``contents``: (exact_dup_key, text) of current contents; ``signatures``: their stored
    (exact_dup_key, signature) rows for the current parameters.
    """
    from pyspark.sql import functions as F

    from data_platform import lake

    lsh, criterion = lsh_key(settings, bands, rows), pair_criterion(settings, bands, rows)
    for name in (BANDS_TABLE, PAIRS_TABLE):
        lake.ensure_table(spark, config, name)
    _drop_other_criteria(spark, config, BANDS_TABLE, "lsh", lsh)
    _drop_other_criteria(spark, config, PAIRS_TABLE, "criterion", criterion)
    # Checkpointed: the bands are appended below, and a recomputed ``fresh`` would then be empty.
    fresh = new_bands(spark, config, signatures, lsh, bands, rows).localCheckpoint()
    versions: dict[str, int] = {}
    try:
        banded = fresh.select("exact_dup_key").distinct().count()
        stored = (
            lake.read_table(spark, config, BANDS_TABLE).where(F.col("lsh") == lsh)
            .join(contents.select("exact_dup_key"), "exact_dup_key", "left_semi")
            .select("exact_dup_key", "band", "band_key")
        )
        candidates = fresh_candidate_pairs(fresh, stored, settings.max_bucket_pairs).persist()
        verified = verified_pairs(candidates, contents, signatures, settings).persist()
        try:
            candidate_count, new_count = candidates.count(), verified.count()
            stamp = [F.lit(run_id).alias("run_id"), F.current_timestamp().alias("updated_at")]
            if new_count:  # pairs first: bands mark contents as seen (see the module docstring)
                versions[PAIRS_TABLE] = lake.append(
                    spark, config, PAIRS_TABLE,
                    verified.select("a", "b", "similarity", F.lit(criterion).alias("criterion"), *stamp))
            if banded:
                versions[BANDS_TABLE] = lake.append(
                    spark, config, BANDS_TABLE,
                    fresh.select("exact_dup_key", F.lit(lsh).alias("lsh"), "band", "band_key", *stamp))
        finally:
            candidates.unpersist()
            verified.unpersist()
    finally:
        fresh.unpersist()  # frees the checkpointed blocks
    edges = stored_pairs(spark, config, contents, criterion)
    return IncrementalPairs(edges, banded, candidate_count, new_count, versions)
