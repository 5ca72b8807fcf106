"""Sources beyond repositories, ingested end to end on real Spark + Delta + Great Expectations.

One ingest of a directory holding code and notebooks (one of them malformed) and of a
documentation tree (a slice of the real Python documentation when python3-doc is installed, and
a Markdown page) must publish a gold version whose rows carry their ``source_kind``, with the
malformed notebook recorded in ops.ingest_errors and absent from gold, and every documentation
section in silver.doc_sections.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from data_platform.ingest.finish import pipeline_stages
from data_platform.ingest.run import run_ingest
from tests.conftest import make_config
from tests.fixtures.ingest import spdx_text
from tests.unit.test_ingest_notebooks import notebook_json

pytestmark = pytest.mark.integration
PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html")
PAGES = ("library/shlex.html", "tutorial/controlflow.html")


def _rows(config, table: str) -> list[dict]:
    return DeltaTable(str(config.lake.table_path(table))).to_pyarrow_table().to_pylist()


def notebook_repo(root):
    """A plain directory with a module, a notebook and a notebook that is not valid JSON."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "stats.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n\n\n"
                                           "def spread(xs):\n    return max(xs) - min(xs)\n")
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
    (root / "howto.md").write_text("# Reading files\n\nOpen the file in a with block so it is closed.\n\n"
                                   "```python\nwith open(path) as handle:\n    data = handle.read()\n```\n")
    return root


def test_notebooks_and_docs_reach_gold_with_their_kind(spark, tmp_path):
    repo = notebook_repo(tmp_path / "analysis")
    docs = docs_tree(tmp_path / "pydocs")
    config = make_config(tmp_path / "lake", "gold.split_by=file")
    sources = [str(repo), f"docs:{docs}#license=PSF-2.0"]
    summary = run_ingest(spark, config, sources, run_id="sources-1", stages=pipeline_stages(), echo=lambda line: None)
    assert summary.status == "succeeded", summary.lines()
    gold = {row["path"]: row for row in _rows(config, "gold.training_corpus")}
    assert gold["notebooks/explore.ipynb"]["source_kind"] == "notebook"
    assert gold["notebooks/explore.ipynb"]["text"].startswith("# %% [markdown]\n# # Exploring the sales table")
    assert gold["src/stats.py"]["source_kind"] == "code"
    assert "notebooks/broken.ipynb" not in gold
    errors = {(row["path"], row["kind"]) for row in _rows(config, "ops.ingest_errors")}
    assert ("notebooks/broken.ipynb", "malformed_notebook") in errors
    _check_docs(config, gold)


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
