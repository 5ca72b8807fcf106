"""Jupyter notebooks (``.ipynb``) → a script in the notebook's language, outputs dropped.

A notebook crawled as-is is JSON: its code hides inside string arrays, next to base64 images
and execution counts. Curation turns it into the "percent" script format (``# %%`` marks a
code cell, ``# %% [markdown]`` a Markdown cell whose lines become comments), the format
VS Code, Spyder and jupytext read and write, so a model trained on it completes notebooks
the way editors show them. Outputs and execution counts are dropped: they are results, not
source, and they carry most of a notebook's bytes (and its PII, in printed data frames).

nbformat parses and validates; a notebook it refuses is :class:`NotebookError`, which
curation records in ``ops.ingest_errors`` (kind ``malformed_notebook``) and skips.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTEBOOK_SUFFIX = ".ipynb"
MALFORMED_NOTEBOOK = "malformed_notebook"

# Kernel language names → the language ids detection uses (Pygments' first alias).
_LANGUAGE_IDS = {"python3": "python", "ipython": "python", "ipython3": "python", "c++": "cpp", "c#": "csharp",
                 "r": "splus", "sh": "bash", "shell": "bash", "js": "javascript", "node": "javascript"}
# Comment leader per language id; anything unlisted takes "#", the leader of most notebook kernels.
_COMMENT = {"javascript": "//", "typescript": "//", "java": "//", "go": "//", "rust": "//", "c": "//",
            "cpp": "//", "csharp": "//", "scala": "//", "kotlin": "//", "swift": "//", "fsharp": "//",
            "sql": "--", "haskell": "--", "lua": "--", "matlab": "%", "octave": "%"}


class NotebookError(ValueError):
    """nbformat could not read the notebook (not JSON, or not a valid notebook)."""


@dataclass(frozen=True)
class NotebookScript:
    text: str  # the percent-format script
    language: str  # the kernel's language id
    code_cells: int
    markdown_cells: int


def is_notebook(path: str) -> bool:
    return path.lower().endswith(NOTEBOOK_SUFFIX)


def notebook_language(metadata: dict) -> str:
    """The language id a notebook's metadata names (kernelspec, then language_info), python if none."""
    kernel = metadata.get("kernelspec") or {}
    info = metadata.get("language_info") or {}
    name = str(kernel.get("language") or info.get("name") or "python").strip().lower()
    return _LANGUAGE_IDS.get(name, name) or "python"


def comment_leader(language: str) -> str:
    return _COMMENT.get(language, "#")


def _read(text: str):
    import warnings

    import nbformat
    from nbformat.warnings import MissingIDFieldWarning

    try:
        with warnings.catch_warnings():
            # Cells without ids are valid before nbformat 4.5; nothing here needs them.
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
    except Exception as err:  # nbformat raises JSON, validation and conversion errors of several types
        raise NotebookError(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:500]) from err
    return notebook


def notebook_script(text: str) -> NotebookScript:
    """The script of a notebook's JSON text; raises NotebookError for a notebook nbformat refuses."""
    notebook = _read(text)
    language = notebook_language(dict(notebook.metadata))
    leader = comment_leader(language)
    parts: list[str] = []
    counts = {"code": 0, "markdown": 0}
    for cell in notebook.cells:
        source = cell.get("source") or ""
        if cell.cell_type == "code":
            parts.append(f"{leader} %%\n{source.rstrip()}\n")
        elif cell.cell_type == "markdown":
            commented = "\n".join(f"{leader} {line}".rstrip() for line in source.rstrip().splitlines())
            parts.append(f"{leader} %% [markdown]\n{commented}\n")
        else:
            continue  # raw cells are neither code nor prose
        counts[cell.cell_type] += 1
    return NotebookScript("\n".join(parts), language, counts["code"], counts["markdown"])
