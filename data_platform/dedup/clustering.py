"""Near-duplicate clusters of silver's distinct contents: signatures → verified pairs →
connected components → components split around their keepers (``dedup.clusters``), so
clusters do not chain.

Pairs come from ``dedup.incremental`` (stored bands and pairs; a run bands and verifies only
contents it has not seen) or, with ``dedup.incremental: false``, from banding every stored
signature again. Both give the same components (decision 0182).
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.dedup.incremental import incremental_pairs
from data_platform.dedup.lsh import bands_rows_for
from data_platform.dedup.near import candidate_pairs, params_key, update_signatures, verified_pairs
from data_platform.settings.refine import DedupSettings


@dataclass
class ContentClusters:
    clusters: object  # DataFrame(exact_dup_key, content_cluster, centrality)
    candidate_pairs: int  # candidates looked at this run (only those of new contents when incremental)
    verified_pairs: int  # verified pairs the components were built from
    signatures_computed: int
    minhash_version: int | None
    bands: int
    rows: int
    split_clusters: int = 0  # clusters made by splitting components around their keepers
    contents_banded: int = 0  # contents banded this run (all of them when not incremental)
    table_versions: dict | None = None  # silver.minhash_bands / silver.near_dup_pairs written


def split_components(components, contents, priority, edges, settings: DedupSettings):
    """(exact_dup_key, content_cluster, centrality) for every content in a component of 2+.

    ``components``: (node, component); ``priority``: dedup.keeper.content_priority;
    ``edges``: verified (a, b) pairs. Each component goes to one task (applyInPandas): the
    split compares members with their keepers, which needs the members side by side.
    """
    from pyspark.sql import functions as F

    from data_platform.dedup.clusters import ORDER_COLUMNS, split_group

    centrality = (
        edges.select(F.col("a").alias("exact_dup_key"))
        .unionByName(edges.select(F.col("b").alias("exact_dup_key")))
        .groupBy("exact_dup_key")
        .agg(F.count("*").alias("centrality"))
    )
    members = (
        components.select(F.col("node").alias("exact_dup_key"), "component")
        .join(contents.select("exact_dup_key", "text"), "exact_dup_key")
        .join(priority, "exact_dup_key")
        .join(centrality, "exact_dup_key", "left")
        .withColumn("centrality", F.coalesce("centrality", F.lit(0)).cast("bigint"))
        .withColumn("neg_centrality", -F.col("centrality"))
    )
    split = members.select("component", "exact_dup_key", "text", *ORDER_COLUMNS).groupBy("component").applyInPandas(
        split_group(settings.threshold, settings.shingle_size), "exact_dup_key string, content_cluster string"
    )
    return split.join(members.select("exact_dup_key", "component", "centrality"), "exact_dup_key")


def _verified_edges(spark, config, contents, signatures, settings: DedupSettings, bands: int, rows: int,
                    run_id: str) -> tuple[object, int, int, dict]:
    """(persisted edges, candidate count, contents banded, table versions) by either path."""
    if settings.incremental:
        found = incremental_pairs(spark, config, contents, signatures, settings, bands, rows, run_id)
        return found.edges.persist(), found.candidate_pairs, found.banded, found.versions
    pairs = candidate_pairs(signatures, bands, rows, settings.max_bucket_pairs).persist()
    try:
        edges = verified_pairs(pairs, contents, signatures, settings).persist()
        # Every content is banded again; the caller holds contents cached, so this count costs no
        # scan of silver.minhash (signatures is that table joined with contents).
        return edges, pairs.count(), contents.count(), {}
    finally:
        pairs.unpersist()


def content_clusters(
    spark, config, contents, settings: DedupSettings, run_id: str, priority
) -> ContentClusters:
    """Cluster distinct contents: (exact_dup_key, content_cluster, centrality).

    ``priority`` (dedup.keeper.content_priority) orders each component's members for the
    split; content_cluster is the smallest key of the cluster a content ends up in.
    """
    from pyspark.sql import functions as F

    from data_platform import lake
    from data_platform.dedup.components import connected_components

    update = update_signatures(spark, config, contents, settings, run_id)
    bands, rows = bands_rows_for(
        settings.threshold, settings.num_perm, settings.verify, settings.bands, settings.rows
    )
    signatures = (
        lake.read_table(spark, config, "silver.minhash")
        .where(F.col("params") == params_key(settings))
        .join(contents.select("exact_dup_key"), "exact_dup_key")  # contents still in silver only
    )
    edges, pair_count, banded, versions = _verified_edges(
        spark, config, contents, signatures, settings, bands, rows, run_id)
    singletons = contents.select(
        "exact_dup_key", F.col("exact_dup_key").alias("content_cluster"), F.lit(0).cast("bigint").alias("centrality")
    )
    split_count = 0
    try:
        edge_count = edges.count()
        if edge_count == 0:
            clusters = singletons
        else:
            _ensure_checkpoint_dir(spark, config)
            components = connected_components(
                edges.select(F.col("a").alias("src"), F.col("b").alias("dst")),
                max_iterations=settings.max_component_iterations,
            )
            split = split_components(components, contents, priority, edges, settings).localCheckpoint()
            counts = split.agg(
                F.countDistinct("content_cluster").alias("clusters"), F.countDistinct("component").alias("components")
            ).first()
            split_count = int(counts["clusters"]) - int(counts["components"])
            clusters = singletons.join(split.select("exact_dup_key"), "exact_dup_key", "left_anti").unionByName(
                split.select("exact_dup_key", "content_cluster", "centrality")
            )
    finally:
        edges.unpersist()
    return ContentClusters(clusters, pair_count, edge_count, update.computed, update.version, bands, rows,
                           split_count, banded, versions)


def _ensure_checkpoint_dir(spark, config) -> None:
    from data_platform.storage import makedirs

    context = spark.sparkContext
    if not context.getCheckpointDir():
        path = config.lake.root / "_checkpoints"
        makedirs(path)  # a local folder; nothing to create on an object store
        context.setCheckpointDir(str(path))
