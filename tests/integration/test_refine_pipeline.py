"""The refine stage end to end on real Spark/Delta: dedup, decontamination, filters, gold.

One lake per module and two runs (Spark work is what makes this slow): a first run, then
an incremental run that adds one near-copy of an old file, which is also the rerun check
for everything else. Every test reads the recorded outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fixtures.refine import (
    add_comments,
    crlf_with_trailing_spaces,
    file_id,
    reformat,
    rename_identifier,
    repo_row,
    silver_row,
    stdlib_text,
    write_rows,
)

from data_platform import lake
from data_platform.decontaminate import humaneval_items
from data_platform.dedup.exact import exact_dup_key
from data_platform.refine import refine
from tests.conftest import make_config

pytestmark = pytest.mark.integration

TEXTWRAP = stdlib_text("textwrap.py")
SHLEX = stdlib_text("shlex.py")
HUMANEVAL_12 = humaneval_items()[12]


def _date(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


REPOS = [
    repo_row("r-big-gpl", 5000, _date(2025), "non_permissive"),
    repo_row("r-mit-10", 10, _date(2025)),
    repo_row("r-mit-50", 50, _date(2020)),
    repo_row("r-mit-nostars", None, _date(2024)),
    repo_row("r-old", None, _date(2019)),
    repo_row("r-new", None, _date(2023)),
    repo_row("r-late", 100_000, _date(2026)),
]

FIRST_RUN = [
    # cluster A: one module copied four ways across repositories
    silver_row("r-mit-10", "wrap.py", TEXTWRAP),
    silver_row("r-mit-50", "util/textwrap.py", rename_identifier(TEXTWRAP, "width", "max_width")),
    silver_row("r-big-gpl", "text.py", reformat(TEXTWRAP), license_class="non_permissive"),
    silver_row("r-mit-nostars", "tw.py", crlf_with_trailing_spaces(TEXTWRAP)),
    # cluster B: no stars anywhere, the newer commit wins
    silver_row("r-old", "shlex.py", SHLEX),
    silver_row("r-new", "lexer.py", add_comments(SHLEX)),
    # distinct files
    silver_row("r-old", "colorsys.py", stdlib_text("colorsys.py")),
    silver_row("r-new", "bisect.py", stdlib_text("bisect.py")),
    silver_row("r-mit-10", "heapq.py", stdlib_text("heapq.py")),
    # a pasted HumanEval problem with its solution
    silver_row(
        "r-mit-10", "solutions/p12.py", "import sys\n\n" + HUMANEVAL_12.prompt + HUMANEVAL_12.solution
    ),
    # filtered files
    silver_row("r-old", "data.py", "X = '" + "a" * 1500 + "'\n"),
    silver_row("r-new", "vendor/six.py", stdlib_text("fnmatch.py"), is_vendored=True),
    silver_row("r-new", "logo.png", None, language=None),
]
LATE_COPY = silver_row(
    "r-late", "shlex_fork.py", rename_identifier(add_comments(SHLEX, every=40), "token", "tok")
)


def _snapshot(spark, config) -> dict[str, dict]:
    rows = (
        lake.read_table(spark, config, "silver.files")
        .select(
            "file_id",
            "repo_id",
            "path",
            "dup_cluster_id",
            "dup_cluster_size",
            "is_dup_keeper",
            "drop_reason",
            "contamination_match",
            "exact_dup_key",
        )
        .collect()
    )
    return {row["file_id"]: row.asDict() for row in rows}


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("refine-lake"))
    write_rows(spark, config, "bronze.repos", REPOS)
    write_rows(spark, config, "silver.files", FIRST_RUN)
    first = refine(spark, config, "run-1")
    after_first = _snapshot(spark, config)
    gold_first = lake.read_table(spark, config, "gold.training_corpus").collect()
    splits_first = _repo_splits(spark, config)
    write_rows(spark, config, "silver.files", [LATE_COPY])
    late = refine(spark, config, "run-2")
    after_late = _snapshot(spark, config)
    splits_late = _repo_splits(spark, config)
    pairs_late = lake.read_table(spark, config, "silver.near_dup_pairs").collect()
    # The same lake re-clustered from every signature (no stored bands or pairs): same decisions.
    full = refine(spark, make_config(config.lake.root, "dedup.incremental=false"), "run-3")
    after_full = _snapshot(spark, config)
    for summary in (first, late, full):
        print(summary.format(), summary.seconds, sep="\n")  # shown with -s or on failure
    return dict(
        config=config,
        first=first,
        late=late,
        gold_first=gold_first,
        after_first=after_first,
        after_late=after_late,
        splits_first=splits_first,
        splits_late=splits_late,
        pairs_late=pairs_late,
        full=full,
        after_full=after_full,
    )


def _repo_splits(spark, config) -> dict[str, str]:
    return {r["repo_id"]: r["split"] for r in lake.read_table(spark, config, "gold.repo_splits").collect()}


def _row(snapshot, repo_id, path):
    return snapshot[file_id(repo_id, path)]


def test_planted_copies_cluster_and_distinct_files_do_not(runs):
    snap = runs["after_first"]
    cluster_a = {
        _row(snap, r, p)["dup_cluster_id"]
        for r, p in [
            ("r-mit-10", "wrap.py"),
            ("r-mit-50", "util/textwrap.py"),
            ("r-big-gpl", "text.py"),
            ("r-mit-nostars", "tw.py"),
        ]
    }
    assert len(cluster_a) == 1 and _row(snap, "r-mit-10", "wrap.py")["dup_cluster_size"] == 4
    assert (
        _row(snap, "r-old", "shlex.py")["dup_cluster_id"] == _row(snap, "r-new", "lexer.py")["dup_cluster_id"]
    )
    for repo, path in [("r-old", "colorsys.py"), ("r-new", "bisect.py"), ("r-mit-10", "heapq.py")]:
        row = _row(snap, repo, path)
        assert row["dup_cluster_size"] == 1 and row["is_dup_keeper"] and row["drop_reason"] is None
    assert _row(snap, "r-new", "logo.png")["dup_cluster_id"] is None


def test_keeper_rule(runs):
    snap = runs["after_first"]
    # permissive beats 5000 stars under GPL; among permissive, 50 stars beat 10 and none
    assert _row(snap, "r-mit-50", "util/textwrap.py")["is_dup_keeper"]
    assert _row(snap, "r-big-gpl", "text.py")["drop_reason"] == "license"
    assert _row(snap, "r-mit-10", "wrap.py")["drop_reason"] == "near_duplicate"
    assert _row(snap, "r-mit-nostars", "tw.py")["drop_reason"] == "near_duplicate"
    # no stars: the newer commit wins
    assert _row(snap, "r-new", "lexer.py")["is_dup_keeper"]
    assert _row(snap, "r-old", "shlex.py")["drop_reason"] == "near_duplicate"


def test_exact_copies_share_a_key_and_say_so(runs):
    snap = runs["after_first"]
    assert (
        _row(snap, "r-mit-10", "wrap.py")["exact_dup_key"]
        == _row(snap, "r-mit-nostars", "tw.py")["exact_dup_key"]
    )
    assert runs["first"].drop_reasons["near_duplicate"] == 3


def test_humaneval_paste_and_filters_are_recorded(runs):
    snap = runs["after_first"]
    assert _row(snap, "r-mit-10", "solutions/p12.py")["contamination_match"] == "HumanEval/12"
    assert _row(snap, "r-mit-10", "solutions/p12.py")["drop_reason"] == "contaminated"
    assert _row(snap, "r-old", "data.py")["drop_reason"] == "max_line_length"
    assert _row(snap, "r-new", "vendor/six.py")["drop_reason"] == "vendored"
    assert _row(snap, "r-new", "logo.png")["drop_reason"] == "no_text"


def test_gold_holds_kept_files_with_repository_level_splits(runs):
    gold = runs["gold_first"]
    kept = {fid for fid, row in runs["after_first"].items() if row["drop_reason"] is None}
    assert {row["doc_id"] for row in gold} == kept and len(kept) == 5
    splits_per_repo: dict[str, set[str]] = {}
    for row in gold:
        splits_per_repo.setdefault(row["repo_id"], set()).add(row["split"])
        assert row["token_count"] > 0 and row["size_bytes"] == len(row["text"].encode())
    assert all(len(splits) == 1 for splits in splits_per_repo.values())
    summary = runs["first"]
    assert summary.gold_rows == 5 and summary.kept == 5 and summary.files == len(FIRST_RUN)
    assert "gold.training_corpus" in summary.table_versions and "near_duplicate" in summary.format()


def test_incremental_run_marks_new_near_copy_as_duplicate_of_old_keeper(runs):
    late = runs["late"]
    assert late.signatures_computed == 1
    snap = runs["after_late"]
    copy = _row(snap, "r-late", "shlex_fork.py")
    keeper = _row(snap, "r-new", "lexer.py")
    # 100k stars and the newest commit, yet the keeper gold already holds stays keeper
    assert copy["dup_cluster_id"] == keeper["dup_cluster_id"] and keeper["is_dup_keeper"]
    assert copy["drop_reason"] == "near_duplicate" and keeper["dup_cluster_size"] == 3


def test_incremental_run_bands_and_verifies_only_the_new_content(runs):
    first, late = runs["first"], runs["late"]
    assert first.contents_banded == first.distinct_contents  # an empty lake bands everything once
    assert late.contents_banded == 1  # the late copy; nothing stored is banded again
    # Candidates looked at in the late run all involve the new content: fewer than a full run's.
    assert 0 < late.candidate_pairs < runs["full"].candidate_pairs
    late_key = _row(runs["after_late"], "r-late", "shlex_fork.py")["exact_dup_key"]
    added = [row for row in runs["pairs_late"] if row["run_id"] == "run-2"]
    assert added and all(late_key in (row["a"], row["b"]) for row in added)
    assert all(row["a"] < row["b"] for row in runs["pairs_late"])
    assert late.verified_pairs == len(runs["pairs_late"])  # components saw every stored pair


def test_full_recluster_agrees_with_the_incremental_one(runs):
    full = runs["full"]
    assert full.contents_banded == full.distinct_contents  # every stored signature banded again
    assert full.silver_rows_changed == 0  # same clusters, keepers and reasons as the incremental run
    assert runs["after_full"] == runs["after_late"]
    assert full.verified_pairs == runs["late"].verified_pairs


def test_second_run_changes_only_what_the_new_file_touches(runs):
    before, after = runs["after_first"], runs["after_late"]
    cluster_b = {
        file_id("r-old", "shlex.py"),
        file_id("r-new", "lexer.py"),
        file_id("r-late", "shlex_fork.py"),
    }
    for fid, row in before.items():
        if fid in cluster_b:
            assert after[fid]["dup_cluster_id"] == min(cluster_b)
            assert {
                k: v for k, v in after[fid].items() if k not in ("dup_cluster_id", "dup_cluster_size")
            } == {k: v for k, v in row.items() if k not in ("dup_cluster_id", "dup_cluster_size")}
        else:
            assert after[fid] == row  # identical clusters, keepers, reasons
    # the new file plus the two old members whose cluster grew; nothing else is rewritten
    assert runs["late"].silver_rows_changed == 3


def test_exact_key_in_spark_equals_the_python_function(runs):
    row = _row(runs["after_first"], "r-mit-nostars", "tw.py")
    assert (
        row["exact_dup_key"] == exact_dup_key(crlf_with_trailing_spaces(TEXTWRAP)) == exact_dup_key(TEXTWRAP)
    )


def test_connected_components_of_a_long_chain(spark, runs):
    from data_platform.dedup.components import connected_components

    nodes = [f"n{i:02d}" for i in range(30)]
    shuffled = nodes[15:] + nodes[:15]  # edges in an order unrelated to the ids
    chain = [(shuffled[i], shuffled[i + 1]) for i in range(len(shuffled) - 1)] + [("x1", "x2")]
    edges = spark.createDataFrame(chain, "src string, dst string")
    components = {r["node"]: r["component"] for r in connected_components(edges).collect()}
    assert {components[n] for n in nodes} == {"n00"} and components["x2"] == "x1" and len(components) == 32


def test_repository_splits_are_stored_give_every_split_data_and_never_change(runs):
    first, late = runs["splits_first"], runs["splits_late"]
    kept_repos = {row["repo_id"] for row in runs["gold_first"]}
    assert set(first) == kept_repos and len(kept_repos) == 4
    # four repositories with kept documents, three splits: none is empty (a hash split left them empty)
    assert set(first.values()) == {"train", "valid", "test"}
    assert all(row["split"] == first[row["repo_id"]] for row in runs["gold_first"])
    assert sum(runs["first"].new_repo_splits.values()) == 4 and runs["first"].split_note is None
    # the second run kept nothing new from r-late: nothing assigned, nothing moved
    assert late == first and runs["late"].new_repo_splits == {}
    assert "splits by repository: 4 repositories" in runs["first"].format()


def test_file_level_split_places_files_of_one_repository_in_several_splits(spark, tmp_path):
    from data_platform.gold import gold_rows, repo_fraction
    from data_platform.settings.refine import GoldSettings

    config = make_config(tmp_path / "lake")
    rows = [silver_row("r-one", f"pkg/m{i}.py", f"x_{i} = {i}\n") for i in range(60)]
    kept = spark.createDataFrame(
        [(r["file_id"], r["repo_id"], r["repo_url"], r["commit_sha"], r["path"], "python", r["text"], "MIT",
          "permissive", exact_dup_key(r["text"]), "code") for r in rows],
        "file_id string, repo_id string, repo_url string, commit_sha string, path string, language string, "
        "text string, license_spdx string, license_class string, exact_dup_key string, source_kind string",
    )
    settings = GoldSettings(split_by="file", split_ratios={"train": 0.6, "valid": 0.2, "test": 0.2})
    gold, assignment = gold_rows(spark, config, kept, settings, "run-f")
    splits = {r["doc_id"]: r["split"] for r in gold.select("doc_id", "split").collect()}
    assert set(splits.values()) == {"train", "valid", "test"} and assignment.split_by == "file"
    for doc_id, split in splits.items():  # the Spark hash is the Python one
        fraction = repo_fraction(doc_id, settings.split_salt)
        assert split == ("train" if fraction < 0.6 else "valid" if fraction < 0.8 else "test")
    assert assignment.note() is None
