"""Sources beyond repositories, ingested end to end on real Spark + Delta + Great Expectations.

One ingest of a directory holding code and notebooks (one of them malformed) and of a
documentation tree (a slice of the real Python documentation when python3-doc is installed, and
a Markdown page) must publish a gold version whose rows carry their ``source_kind``, with the
malformed notebook recorded in ops.ingest_errors and absent from gold, and every documentation
section in silver.doc_sections.
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
from tests.fixtures.stackexchange import write_dump
from tests.unit.test_ingest_notebooks import notebook_json

pytestmark = pytest.mark.integration
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


def notebook_repo(root):
    """A plain directory with a module, a notebook and a notebook that is not valid JSON."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "stats.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n\n\n"
                                           "def spread(xs):\n    return max(xs) - min(xs)\n")
    (root / "src" / "wordcount.py").write_text(WORD_COUNT)  # also a documentation example below
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


def docs_tree(root):
    """A few pages of the Python documentation (when installed) and a Markdown page."""
    for page in PAGES if PYTHON_DOCS.is_dir() else ():
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PYTHON_DOCS / page, root / page)
    root.mkdir(parents=True, exist_ok=True)
    (root / "examples.md").write_text(f"# Examples\n\n## Word counts\n\n```python\n{WORD_COUNT}```\n")
    (root / "howto.md").write_text("# Reading files\n\nOpen the file in a with block so it is closed.\n\n"
                                   "```python\nwith open(path) as handle:\n    data = handle.read()\n```\n")
    return root


def test_notebooks_docs_and_qa_reach_gold_with_their_kind(spark, tmp_path, capsys):
    repo = notebook_repo(tmp_path / "analysis")
    docs = docs_tree(tmp_path / "pydocs")
    # Every document trains: split fractions of a few dozen hashed documents are noise for the gate's check.
    config = make_config(tmp_path / "lake", "gold.split_by=file", "gold.split_ratios={train: 1.0, valid: 0.0, test: 0.0}")
    dump = write_dump(tmp_path / "stackoverflow.com")
    sources = [str(repo), f"docs:{docs}#license=PSF-2.0", f"stackexchange:{dump}"]
    lines: list[str] = []
    summary = run_ingest(spark, config, sources, run_id="sources-1", stages=pipeline_stages(), echo=lines.append)
    assert summary.status == "succeeded", "\n".join(lines)
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


def _check_cross_kind_cluster(config) -> None:
    """A documentation example copied into a repository is one near-duplicate cluster across kinds."""
    silver = {row["path"]: row for row in _rows(config, "silver.files")}
    code, section = silver["src/wordcount.py"], silver["examples.md#word-counts"]
    assert (code["source_kind"], section["source_kind"]) == ("code", "docs")
    assert code["dup_cluster_id"] == section["dup_cluster_id"] and code["dup_cluster_size"] == 2
    assert sorted([code["drop_reason"] or "kept", section["drop_reason"] or "kept"]) == ["kept", "near_duplicate"]


def _check_qa(config, gold: dict[str, dict], errors: set) -> None:
    threads = {row["question_id"]: row for row in _rows(config, "silver.qa_threads")}
    assert sorted(threads) == [1, 5]
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
