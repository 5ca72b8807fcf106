"""From content clusters to file clusters, and the one file each cluster keeps.

Keeper order (first difference wins): a file that passes every filter (so a vendored or
over-long copy never shadows a clean one), the cluster's keeper of an earlier run (when
``keep_previous_keeper``, so new copies never displace what gold already holds), a
permissive license, more stars (bronze.repos), a newer commit, more verified near-duplicates
in its component (the most representative version), then the smallest file_id. Every input
is a column value, so the choice is the same on every rerun. The same order picks the
keepers that components are split around (:mod:`dedup.clusters`).
"""

from __future__ import annotations

LICENSE_RANK = {"permissive": 0, "none": 1, "non_permissive": 2}


def keeper_sort_key(
    file_id: str,
    eligible: bool,
    license_class: str | None,
    stars: int | None,
    commit_epoch: float | None,
    previous_keeper: bool = False,
    centrality: int = 0,
) -> tuple:
    """The keeper rule as a plain sort key (smallest wins); the Spark window below mirrors it."""
    return (
        0 if eligible else 1,
        0 if previous_keeper else 1,
        LICENSE_RANK.get(license_class or "none", 1),
        -(stars if stars is not None else -1),
        -(commit_epoch if commit_epoch is not None else float("-inf")),
        -centrality,
        file_id,
    )


_NO_DATE = 1e18  # a missing commit date sorts after every real one


def ranked_files(files, repos, keep_previous_keeper: bool):
    """``files`` with the keeper rule's inputs: eligible, previous_keeper, license_rank, stars, commit_date.

    ``files``: silver.files rows with text (file_id, repo_id, commit_sha, exact_dup_key,
    license_class, is_dup_keeper, eligible). ``repos``: bronze.repos (repo_id, commit_sha,
    stars, commit_date).
    """
    from pyspark.sql import functions as F

    repo_facts = repos.groupBy("repo_id", "commit_sha").agg(
        F.max("stars").alias("stars"), F.max("commit_date").alias("commit_date")
    )
    license_rank = F.coalesce(
        F.create_map(*[x for k, v in LICENSE_RANK.items() for x in (F.lit(k), F.lit(v))])[
            F.col("license_class")
        ],
        F.lit(1),
    )
    previous = F.coalesce(F.col("is_dup_keeper"), F.lit(False)) if keep_previous_keeper else F.lit(False)
    return (
        files.select(
            "file_id", "repo_id", "commit_sha", "exact_dup_key", "license_class", "is_dup_keeper", "eligible"
        )
        .join(repo_facts, ["repo_id", "commit_sha"], "left")
        .withColumn("previous_keeper", previous)
        .withColumn("license_rank", license_rank)
    )


def content_priority(ranked):
    """(exact_dup_key, order columns of dedup.clusters without centrality): each content's best file.

    Every column is "smaller is better", so the best file of a content is the minimum of one
    struct, and contents compare the way the file-level window compares their best files.
    """
    from pyspark.sql import functions as F

    best = F.min(
        F.struct(
            F.when(F.col("eligible"), 0).otherwise(1).alias("not_eligible"),
            F.when(F.col("previous_keeper"), 0).otherwise(1).alias("not_previous_keeper"),
            F.col("license_rank").alias("license_rank"),
            (-F.coalesce(F.col("stars"), F.lit(-1))).cast("bigint").alias("neg_stars"),
            F.coalesce(-F.unix_timestamp("commit_date").cast("double"), F.lit(_NO_DATE)).alias("neg_commit_epoch"),
            F.col("file_id").alias("best_file_id"),
        )
    ).alias("best")
    return ranked.groupBy("exact_dup_key").agg(best).select("exact_dup_key", "best.*")


def file_clusters(ranked, content_clusters):
    """(file_id, dup_cluster_id, dup_cluster_size, is_dup_keeper, duplicate_of_exact).

    ``ranked``: :func:`ranked_files`. ``content_clusters``: (exact_dup_key, content_cluster,
    centrality). ``duplicate_of_exact`` tells a dropped copy whose text equals its keeper's.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cluster = Window.partitionBy("content_cluster")
    order = Window.partitionBy("content_cluster").orderBy(
        F.col("eligible").desc(),
        F.col("previous_keeper").desc(),
        F.col("license_rank").asc(),
        F.col("stars").desc_nulls_last(),
        F.col("commit_date").desc_nulls_last(),
        F.col("centrality").desc(),
        F.col("file_id").asc(),
    )
    clustered = (
        ranked.join(content_clusters, "exact_dup_key")
        .withColumn("dup_cluster_id", F.min("file_id").over(cluster))
        .withColumn("dup_cluster_size", F.count("*").over(cluster))
        .withColumn("rank", F.row_number().over(order))
        .withColumn("is_dup_keeper", F.col("rank") == 1)
    )
    return clustered.withColumn(
        "keeper_exact_key",
        F.first(F.when(F.col("is_dup_keeper"), F.col("exact_dup_key")), ignorenulls=True).over(cluster),
    ).select(
        "file_id",
        "dup_cluster_id",
        F.col("dup_cluster_size").cast("bigint").alias("dup_cluster_size"),
        "is_dup_keeper",
        (F.col("exact_dup_key") == F.col("keeper_exact_key")).alias("duplicate_of_exact"),
    )
