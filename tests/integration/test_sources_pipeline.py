"""Sources beyond repositories, ingested end to end on real Spark + Delta + Great Expectations.

One ingest of a directory holding code and notebooks (one of them malformed), of a
documentation tree (a slice of the real Python documentation when python3-doc is installed, and
Markdown pages) and of a Stack Exchange dump must publish a gold version whose rows carry their
``source_kind``, with the malformed notebook recorded in ops.ingest_errors and absent from gold,
every documentation section in silver.doc_sections, the source tables validated by their suites,
and code copied across kinds (a documentation example, an answer's snippet) in one near-duplicate
cluster with the repository file. A second ingest of the same sources, after a section left a
page and a thread left the dump, removes both from silver and gold.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from data_platform.ingest.finish import pipeline_stages
from data_platform.ingest.run import run_ingest
from tests.conftest import make_config
from tests.fixtures.ingest import spdx_text
from tests.fixtures.stackexchange import answered_with_code, write_dump
from tests.unit.test_ingest_notebooks import notebook_json

# Two ingests of four kinds of source (the second after removals upstream) on a busy 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
SETTINGS = ("gold.split_by=file", "gold.split_ratios={train: 1.0, valid: 0.0, test: 0.0}")
PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html")
PAGES = ("library/shlex.html", "tutorial/controlflow.html")


def _rows(config, table: str) -> list[dict]:
    return DeltaTable(str(config.lake.table_path(table))).to_pyarrow_table().to_pylist()


WORD_COUNT = """import collections
import re
import sys


def words(text):
    \"\"\"Lower-cased words of a text, in order.\"\"\"
    return re.findall(r"[a-z']+", text.lower())


def top_words(paths, limit=10):
    counts = collections.Counter()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                counts.update(words(line))
    return counts.most_common(limit)


def main(argv):
    for word, count in top_words(argv[1:]):
        print(f"{count:8d} {word}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
"""


# A module an answer quotes whole (the Q&A ↔ repository near-duplicate case).
CSV_TOTALS = """import csv
import sys
from collections import defaultdict


def column_totals(path, key_column, value_column):
    \"\"\"Sum value_column per distinct key_column of a CSV file with a header row.\"\"\"
    totals = defaultdict(float)
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                totals[row[key_column]] += float(row[value_column])
            except (KeyError, ValueError):
                continue
    return dict(totals)


def print_totals(totals):
    width = max((len(key) for key in totals), default=0)
    for key in sorted(totals):
        print(f"{key:<{width}}  {totals[key]:12.2f}")


if __name__ == "__main__":
    print_totals(column_totals(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


def notebook_repo(root):
    """A plain directory with a module, a notebook and a notebook that is not valid JSON."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "stats.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n\n\n"
                                           "def spread(xs):\n    return max(xs) - min(xs)\n")
    (root / "src" / "wordcount.py").write_text(WORD_COUNT)  # also a documentation example below
    (root / "src" / "csv_totals.py").write_text(CSV_TOTALS)  # also an answer in the dump
    (root / "notebooks").mkdir()
    (root / "notebooks" / "explore.ipynb").write_text(notebook_json([
        {"cell_type": "markdown", "source": "# Exploring the sales table\n\nCounts per region."},
        {"cell_type": "code", "source": "def per_region(rows):\n    counts = {}\n    for row in rows:\n"
                                        "        counts[row.region] = counts.get(row.region, 0) + 1\n"
                                        "    return counts\n"},
    ]))
    (root / "notebooks" / "broken.ipynb").write_text('{"cells": [{"cell_type": "code", ')
    (root / "LICENSE").write_text(spdx_text("MIT"))
    return root


def docs_tree(root, closing: bool = True):
    """A few pages of the Python documentation (when installed) and Markdown pages."""
    for page in PAGES if PYTHON_DOCS.is_dir() else ():
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PYTHON_DOCS / page, root / page)
    root.mkdir(parents=True, exist_ok=True)
    (root / "examples.md").write_text(f"# Examples\n\n## Word counts\n\n```python\n{WORD_COUNT}```\n")
    (root / "howto.md").write_text("# Reading files\n\nOpen the file in a with block so it is closed.\n\n"
                                   "```python\nwith open(path) as handle:\n    data = handle.read()\n```\n"
                                   + (CLOSING if closing else ""))
    return root


# A section the second ingest no longer finds in howto.md (the page stays).
CLOSING = "\n## Closing files\n\nOutside a with block, call the close method once the data is read.\n"


def test_notebooks_docs_and_qa_reach_gold_with_their_kind(spark, tmp_path, capsys):
    repo = notebook_repo(tmp_path / "analysis")
    docs = docs_tree(tmp_path / "pydocs")
    # Every document trains: split fractions of a few dozen hashed documents are noise for the gate's check.
    config = make_config(tmp_path / "lake", *SETTINGS)
    copied = answered_with_code(10, "Totals per CSV column", "<python><csv>", CSV_TOTALS)
    dump = write_dump(tmp_path / "stackoverflow.com", copied)
    sources = [str(repo), f"docs:{docs}#license=PSF-2.0", f"stackexchange:{dump}"]
    lines: list[str] = []
    summary = run_ingest(spark, config, sources, run_id="sources-1", stages=pipeline_stages(), echo=lines.append)
    assert summary.status == "succeeded", "\n".join(lines)
    _check_source_suites(config, "sources-1")
    gold = {row["path"]: row for row in _rows(config, "gold.training_corpus")}
    assert gold["notebooks/explore.ipynb"]["source_kind"] == "notebook"
    assert gold["notebooks/explore.ipynb"]["text"].startswith("# %% [markdown]\n# # Exploring the sales table")
    assert gold["src/stats.py"]["source_kind"] == "code"
    assert "notebooks/broken.ipynb" not in gold
    errors = {(row["path"], row["kind"]) for row in _rows(config, "ops.ingest_errors")}
    assert ("notebooks/broken.ipynb", "malformed_notebook") in errors
    _check_docs(config, gold)
    _check_cross_kind_cluster(config)
    _check_qa(config, gold, errors)
    assert {row["source_kind"] for row in gold.values()} == {"code", "notebook", "docs", "qa"}
    _check_sql_counts(config, gold, capsys)

    # The section and the thread 5 (question and answer) are gone upstream; the rest is unchanged.
    docs_tree(docs, closing=False)
    write_dump(dump, copied, without={5, 6})
    # Only the gold gate this time (the suites of the source tables ran above): less GE time.
    again = make_config(config.lake.root, *SETTINGS, "quality.validate_tables=[]", "quality.report_after_ingest=false")
    summary = run_ingest(spark, again, sources, run_id="sources-2", stages=pipeline_stages(), echo=lines.append)
    assert summary.status == "succeeded", "\n".join(lines)
    _check_removed(config, before=gold)


def _check_source_suites(config, run_id: str) -> None:
    """The ingest validated both source tables with their suites; the HTML report lists them."""
    from data_platform.quality.report import report_path

    results = {row["table_name"]: row for row in _rows(config, "ops.quality_results") if row["run_id"] == run_id}
    report = report_path(config, run_id).read_text()
    for table in ("silver.doc_sections", "silver.qa_threads"):
        assert results[table]["success"], results[table]["failed_expectations"]
        assert table in report


def _check_removed(config, before: dict[str, dict]) -> None:
    """What left its source left silver (files, sections, threads) and the new gold version."""
    gone = {"howto.md#closing-files", "questions/5"}
    silver = {row["path"] for row in _rows(config, "silver.files")}
    records = {row["path"] for row in _rows(config, "silver.doc_sections") + _rows(config, "silver.qa_threads")}
    gold = {row["path"] for row in _rows(config, "gold.training_corpus")}
    assert not gone & silver and not gone & records and not gone & gold
    assert {"howto.md#reading-files", "questions/1", "questions/10", "examples.md#word-counts"} <= silver & records
    assert "howto.md#closing-files" in before  # it was published, and the new gold version is the old one less it
    assert gold == set(before) - gone


def _check_cross_kind_cluster(config) -> None:
    """A documentation example copied into a repository is one near-duplicate cluster across kinds."""
    silver = {row["path"]: row for row in _rows(config, "silver.files")}
    for file, copy, kind in (("src/wordcount.py", "examples.md#word-counts", "docs"),
                             ("src/csv_totals.py", "questions/10", "qa")):
        code, other = silver[file], silver[copy]
        assert (code["source_kind"], other["source_kind"]) == ("code", kind)
        assert code["dup_cluster_id"] == other["dup_cluster_id"] and code["dup_cluster_size"] == 2, (file, copy)
        assert sorted([code["drop_reason"] or "kept", other["drop_reason"] or "kept"]) == ["kept", "near_duplicate"]


def _check_qa(config, gold: dict[str, dict], errors: set) -> None:
    threads = {row["question_id"]: row for row in _rows(config, "silver.qa_threads")}
    assert sorted(threads) == [1, 5, 10]
    assert threads[1]["license_spdx"] == "CC-BY-SA-2.5" and threads[1]["url"] == "https://stackoverflow.com/q/1"
    assert threads[1]["authors"] == ["Asker", "Guru", "Helper"] and threads[1]["languages"] == ["python"]
    thread = gold["questions/1"]
    assert (thread["source_kind"], thread["license_class"], thread["language"]) == ("qa", "attributed", "python")
    assert "want it reversed <in place>" in thread["text"]
    assert ("Posts.xml#row Id=7", "bad_row") in errors and ("Posts.xml#row Id=8", "bad_row") in errors


def _check_sql_counts(config, gold: dict[str, dict], capsys) -> None:
    """`codemill sql` answers per-kind counts of the published gold version."""
    from codemill.cli.main import main as codemill_main

    capsys.readouterr()
    query = "SELECT source_kind, count(*) AS n FROM gold.training_corpus GROUP BY source_kind ORDER BY source_kind"
    try:
        codemill_main(["sql", f"lake.root={config.lake.root}", "--engine", "duckdb", "--format", "json", query])
    except SystemExit as done:
        assert done.code in (0, None), done.code
    answered = {row["source_kind"]: row["n"] for row in json.loads(capsys.readouterr().out)}
    expected: dict[str, int] = {}
    for row in gold.values():
        expected[row["source_kind"]] = expected.get(row["source_kind"], 0) + 1
    assert answered == expected


def _check_docs(config, gold: dict[str, dict]) -> None:
    sections = {row["path"]: row for row in _rows(config, "silver.doc_sections")}
    howto = sections["howto.md#reading-files"]
    assert howto["code_languages"] == ["python"] and howto["license_spdx"] == "PSF-2.0"
    assert gold["howto.md#reading-files"]["source_kind"] == "docs"
    assert gold["howto.md#reading-files"]["text"].startswith("# Reading files\n\nOpen the file")
    if PYTHON_DOCS.is_dir():
        pages = {row["page"] for row in sections.values()}
        assert set(PAGES) <= pages
        assert any("python" in row["code_languages"] for row in sections.values() if row["page"] in PAGES)
        assert sum(1 for row in gold.values() if row["source_kind"] == "docs") >= 10
