"""Notebooks: nbformat JSON → percent-format script (outputs dropped); malformed ones become errors."""

from __future__ import annotations

import json

import pytest

from data_platform.ingest.curate import curate_file
from data_platform.ingest.notebooks import MALFORMED_NOTEBOOK, NotebookError, notebook_script


def notebook_json(cells: list[dict], language: str = "python") -> str:
    """A minimal nbformat 4 notebook, as Jupyter writes it (sources as line lists)."""
    full = []
    for cell in cells:
        lines = cell["source"].splitlines(keepends=True)
        if cell["cell_type"] == "code":
            full.append({"cell_type": "code", "execution_count": 3, "metadata": {}, "source": lines,
                         "outputs": cell.get("outputs", [])})
        else:
            full.append({"cell_type": cell["cell_type"], "metadata": {}, "source": lines})
    metadata = {"kernelspec": {"name": f"{language}3", "display_name": language, "language": language},
                "language_info": {"name": language}}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": full}, indent=1)


PLOT_OUTPUT = {"output_type": "display_data", "metadata": {},
               "data": {"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
                        "text/plain": ["<Figure size 640x480 with 1 Axes>"]}}
PRINTED = {"output_type": "stream", "name": "stdout", "text": ["alice@example.com 42\n"]}


def test_code_and_markdown_cells_become_a_percent_script_without_outputs():
    text = notebook_json([
        {"cell_type": "markdown", "source": "# Fitting a line\n\nWe fit *y = ax + b*."},
        {"cell_type": "code", "source": "import numpy as np\nx = np.arange(10)", "outputs": [PRINTED]},
        {"cell_type": "raw", "source": "raw text is neither"},
        {"cell_type": "code", "source": "plot(x)\n", "outputs": [PLOT_OUTPUT]},
    ])
    script = notebook_script(text)
    assert script.text == (
        "# %% [markdown]\n# # Fitting a line\n#\n# We fit *y = ax + b*.\n\n"
        "# %%\nimport numpy as np\nx = np.arange(10)\n\n"
        "# %%\nplot(x)\n"
    )
    assert (script.language, script.code_cells, script.markdown_cells) == ("python", 2, 1)
    assert "iVBOR" not in script.text and "alice" not in script.text and "execution_count" not in script.text


def test_the_comment_leader_follows_the_kernel_language():
    script = notebook_script(notebook_json([{"cell_type": "markdown", "source": "Notes"},
                                            {"cell_type": "code", "source": "let x = 1;"}], "javascript"))
    assert script.language == "javascript"
    assert script.text.startswith("// %% [markdown]\n// Notes\n")


@pytest.mark.parametrize("text", [
    '{"cells": [',  # truncated JSON
    json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}),
    json.dumps({"not": "a notebook"}),
])
def test_malformed_notebooks_are_refused(text):
    with pytest.raises(NotebookError):
        notebook_script(text)


def test_curation_turns_a_notebook_into_its_script_and_parses_it():
    text = notebook_json([{"cell_type": "markdown", "source": "Adds numbers."},
                          {"cell_type": "code", "source": "def add(a, b):\n    return a + b\n"}])
    curated = curate_file("r", "u", "c", "nb/analysis.ipynb", text.encode(), "b", "MIT")
    silver = curated.silver
    assert silver["source_kind"] == "notebook" and silver["language"] == "python"
    assert silver["text"].startswith("# %% [markdown]\n# Adds numbers.") and '"cells"' not in silver["text"]
    assert silver["parse_ok"] is True and silver["function_count"] == 1
    assert [f["name"] for f in curated.functions] == ["add"]
    assert curate_file("r", "u", "c", "src/a.py", b"x = 1\n", "b", None).silver["source_kind"] == "code"


def test_a_malformed_notebook_is_an_error_with_no_text():
    curated = curate_file("r", "u", "c", "broken.ipynb", b'{"cells": [', "b", None)
    assert curated.silver["text"] is None
    assert [(e["kind"], e["stage"], e["path"]) for e in curated.errors] == [(MALFORMED_NOTEBOOK, "curate",
                                                                              "broken.ipynb")]
