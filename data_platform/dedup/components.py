"""Distributed connected components: the large-star / small-star iteration in Spark.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014). Every round
rewires edges so each node points at the smallest id it has seen, until the graph is a set
of stars around each component's smallest id (checked with one query per round). Nothing is collected to the driver: each
round is a few joins and aggregations, and the edge set is checkpointed so its lineage
(and the query plan) does not grow with the number of rounds. GraphFrames would do the
same job, but no GraphFrames jar for Spark 4 / Scala 2.13 resolves from Maven Central.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class ComponentsDidNotConverge(RuntimeError):
    pass


def _canonical(edges):
    """Undirected edges as (src > dst) pairs, without self-loops or repeats."""
    from pyspark.sql import functions as F

    return (
        edges.select(F.greatest("src", "dst").alias("src"), F.least("src", "dst").alias("dst"))
        .where(F.col("src") != F.col("dst"))
        .distinct()
    )


def _large_star(edges):
    """Each node links its larger neighbours to the smallest of its neighbourhood (itself included)."""
    from pyspark.sql import functions as F

    both = edges.select("src", "dst").unionByName(
        edges.select(F.col("dst").alias("src"), F.col("src").alias("dst"))
    )
    smallest = both.groupBy("src").agg(F.least(F.min("dst"), F.first("src")).alias("m"))
    return _canonical(
        both.where(F.col("dst") > F.col("src"))
        .join(smallest, "src")
        .select(F.col("dst").alias("src"), F.col("m").alias("dst"))
    )


def _small_star(edges):
    """Each node links itself and its smaller neighbours to the smallest of them."""
    from pyspark.sql import functions as F

    # edges are canonical: src > dst, so dst is a smaller neighbour of src.
    smallest = edges.groupBy("src").agg(F.min("dst").alias("m"))
    linked = edges.join(smallest, "src").select(F.col("dst").alias("src"), F.col("m").alias("dst"))
    return _canonical(linked.unionByName(smallest.select("src", F.col("m").alias("dst"))))


def _is_star_forest(edges) -> bool:
    """Converged: every node links to one root only, and no root links to a smaller node.

    With canonical edges (src > dst) that makes each component a star around its smallest
    id. One query over the (checkpointed) edges; often true after the first round.
    """
    from pyspark.sql import functions as F

    two_roots = edges.groupBy("src").agg(F.count("*").alias("n")).where(F.col("n") > 1).select("src")
    chained = edges.select(F.col("dst").alias("src")).join(edges.select("src"), "src", "left_semi")
    return two_roots.unionByName(chained).limit(1).isEmpty()


def connected_components(edges, checkpoint: bool = True, max_iterations: int = 40):
    """(node, component) for every node that has an edge; component = smallest node id.

    ``edges`` has string columns ``src`` and ``dst``. Nodes without edges are not in the
    result (callers treat them as singletons).
    """
    from pyspark.sql import functions as F

    current = _canonical(edges)
    for iteration in range(1, max_iterations + 1):
        current = _small_star(_large_star(current))
        current = current.checkpoint() if checkpoint else current.localCheckpoint()
        log.info("connected components: round %d", iteration)
        if _is_star_forest(current):
            break
    else:
        raise ComponentsDidNotConverge(f"connected components did not converge in {max_iterations} rounds")
    # A star forest: every edge is (member, root) with root the component's smallest id.
    members = current.select(F.col("src").alias("node"), F.col("dst").alias("component"))
    roots = current.select(F.col("dst").alias("node"), F.col("dst").alias("component")).distinct()
    return members.unionByName(roots)
