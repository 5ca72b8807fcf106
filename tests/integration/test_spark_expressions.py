"""The Spark expressions behind dedup and gold, run on small frames beside their Python rules.

Several rules exist twice on purpose: a plain function that documents the rule (and that
unit tests and the docs use) and a Spark expression that applies it without a Python worker
round trip. Only the Spark side decides what lands in the lake, so it is the one checked
here, on inputs chosen to make the two disagree if either drifts: line-ending and trailing
whitespace variants, ties on every keeper criterion, nulls, and many hashed ids.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from data_platform.dedup.exact import exact_dup_key, exact_dup_key_column
from data_platform.dedup.keeper import (
    LICENSE_RANK,
    content_priority,
    file_clusters,
    keeper_sort_key,
    ranked_files,
)
from data_platform.gold import _boundaries, _fraction_column, repo_fraction, split_column
from data_platform.settings.refine import GoldSettings

pytestmark = pytest.mark.integration

TEXTS = [
    "def f():\n    return 1\n",
    "def f():\r\n    return 1\r\n",  # CRLF
    "def f():\r    return 1\r",  # old Mac line ends
    "def f():   \n    return 1\t\t\n\n\n",  # trailing blanks and blank lines
    "x = 1\f\n\u000by = 2 \u000b\n",  # form feed and vertical tab at line ends
    "x = 1 \u00a0\n",  # a no-break space is content, not trailing whitespace
    "s = '🙂 naïve'  \r\n\r\n",
    "\n\n\n",
    "   ",
    "",
    "a\n \n\t\nb",  # whitespace-only lines inside the text
    None,
]


def test_exact_key_column_equals_the_python_key(spark):
    frame = spark.createDataFrame([(i, t) for i, t in enumerate(TEXTS)], "i int, text string")
    got = {row.i: row.key for row in frame.select("i", exact_dup_key_column("text").alias("key")).collect()}
    assert got == {i: exact_dup_key(t) for i, t in enumerate(TEXTS)}
    # the normalisation really merges variants (so equality above is not vacuous)
    assert len({got[0], got[1], got[2], got[3]}) == 1 and got[4] != got[0]


def test_file_level_split_and_repository_order_follow_the_python_hash(spark):
    settings = GoldSettings(split_ratios={"train": 0.7, "valid": 0.2, "test": 0.1}, split_salt="s4lt")
    ids = [f"repo-{n:04d}" for n in range(600)]
    frame = spark.createDataFrame([(i,) for i in ids], "doc_id string")
    rows = frame.select("doc_id", _fraction_column(settings, "doc_id").alias("f"),
                        split_column(settings, "doc_id").alias("split")).collect()
    bounds = _boundaries(settings.split_ratios)
    for row in rows:
        expected = repo_fraction(row.doc_id, settings.split_salt)
        assert row.f == pytest.approx(expected, abs=1e-12)
        assert row.split == next((name for name, upper in bounds if expected < upper), bounds[-1][0])
    counts = {name: sum(r.split == name for r in rows) for name in settings.split_ratios}
    assert all(abs(counts[n] / len(rows) - ratio) < 0.06 for n, ratio in settings.split_ratios.items()), counts


def _random_files(seed: int, clusters: int = 40):
    """Files in ``clusters`` content clusters, with ties on every keeper criterion and nulls."""
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    files, repos, contents = [], [], []
    for cluster in range(clusters):
        keys = [f"k{cluster}-{n}" for n in range(rng.randint(1, 3))]  # exact contents in this cluster
        for key in keys:
            contents.append((key, f"c{cluster}", rng.choice([0, 1, 1, 2])))
        for n in range(rng.randint(1, 6)):
            file_id = f"f{rng.randrange(10**6):06d}-{cluster}-{n}"
            repo = f"r-{file_id}"
            stars = rng.choice([None, 0, 3, 3, 10])
            when = rng.choice([None, base, base, base + timedelta(days=rng.randint(1, 3))])
            files.append((file_id, repo, "c0ffee", rng.choice(keys), rng.choice([*LICENSE_RANK, None]),
                          rng.random() < 0.15, rng.random() < 0.8))
            repos.append((repo, "c0ffee", stars, when))
    return files, repos, contents


FILES_SCHEMA = ("file_id string, repo_id string, commit_sha string, exact_dup_key string, license_class string, "
                "is_dup_keeper boolean, eligible boolean")
REPOS_SCHEMA = "repo_id string, commit_sha string, stars int, commit_date timestamp"


@pytest.mark.parametrize("keep_previous", [True, False])
def test_keeper_window_and_content_priority_follow_the_python_sort_key(spark, keep_previous):
    files, repos, contents = _random_files(seed=7 if keep_previous else 11)
    ranked = ranked_files(spark.createDataFrame(files, FILES_SCHEMA), spark.createDataFrame(repos, REPOS_SCHEMA),
                          keep_previous_keeper=keep_previous)
    content_clusters = spark.createDataFrame(contents, "exact_dup_key string, content_cluster string, centrality int")
    facts = {repo: (stars, when) for repo, _sha, stars, when in repos}
    cluster_of = {key: (cluster, centrality) for key, cluster, centrality in contents}

    def sort_key(file, with_centrality=True):
        file_id, repo, _sha, key, license_class, was_keeper, eligible = file
        stars, when = facts[repo]
        return keeper_sort_key(file_id, eligible, license_class, stars, when.timestamp() if when else None,
                               previous_keeper=keep_previous and was_keeper,
                               centrality=cluster_of[key][1] if with_centrality else 0)

    keepers = {row.file_id for row in file_clusters(ranked, content_clusters).collect() if row.is_dup_keeper}
    by_cluster: dict[str, list] = {}
    for file in files:
        by_cluster.setdefault(cluster_of[file[3]][0], []).append(file)
    assert keepers == {min(members, key=sort_key)[0] for members in by_cluster.values()}

    best = {row.exact_dup_key: row.best_file_id for row in content_priority(ranked).collect()}
    by_content: dict[str, list] = {}
    for file in files:
        by_content.setdefault(file[3], []).append(file)
    assert best == {key: min(members, key=lambda f: sort_key(f, False))[0] for key, members in by_content.items()}


def _bucket_rows(members: dict[str, list[int]]) -> list[tuple[str, int, int]]:
    """(exact_dup_key, band, band_key) rows: each key sits in band 0's bucket numbered by the list."""
    return [(key, band, bucket) for key, buckets in members.items() for band, bucket in enumerate(buckets)]


@pytest.mark.parametrize("max_bucket_pairs", [50, 3])
def test_fresh_candidates_are_the_pairs_a_full_banding_adds(spark, max_bucket_pairs):
    """Incremental lookup = (full banding's pairs now) minus (its pairs before the new keys),
    while no bucket exceeds max_bucket_pairs; over it, a star around the bucket's smallest key."""
    from data_platform.dedup.incremental import fresh_candidate_pairs

    schema = "exact_dup_key string, band int, band_key bigint"
    old = {"k1": [1, 7], "k3": [1, 8], "k5": [2, 9], "k6": [4, 9]}
    new = {"k0": [1, 9], "k4": [3, 8], "k9": [5, 10]}  # k9 shares no bucket with anything

    def full_pairs(members):
        buckets: dict[tuple[int, int], set[str]] = {}
        for key, band, bucket in _bucket_rows(members):
            buckets.setdefault((band, bucket), set()).add(key)
        return {(a, b) for group in buckets.values() for a in group for b in group if a < b}

    got = fresh_candidate_pairs(spark.createDataFrame(_bucket_rows(new), schema),
                                spark.createDataFrame(_bucket_rows(old), schema), max_bucket_pairs).collect()
    pairs = {(row.a, row.b) for row in got}
    assert all(a < b for a, b in pairs)
    if max_bucket_pairs == 50:
        assert pairs == full_pairs({**old, **new}) - full_pairs(old)
    else:  # band 1 bucket 9 holds k0, k5, k6 (3 ≤ 3); band 0 bucket 1 holds k0, k1, k3 (3): no star yet
        assert pairs == full_pairs({**old, **new}) - full_pairs(old)
        crowded = {**old, "k2": [1, 11], "k7": [1, 12]}  # band 0 bucket 1: k0, k1, k2, k3, k7 > 3
        got = fresh_candidate_pairs(spark.createDataFrame(_bucket_rows(new), schema),
                                    spark.createDataFrame(_bucket_rows(crowded), schema), 3).collect()
        star = {(row.a, row.b) for row in got}
        # The crowded bucket becomes a star around its new smallest key k0; the rest as before.
        assert star == {("k0", "k1"), ("k0", "k2"), ("k0", "k3"), ("k0", "k7"), ("k0", "k5"), ("k0", "k6"),
                        ("k3", "k4")}
