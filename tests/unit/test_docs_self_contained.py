"""The repository's docs stand alone and name code that exists.

- nothing tracked links to or mentions files outside the repository (the design notes it grew
  from live in docs/architecture.md and docs/engine-notes.md);
- every dotted code name in docs/architecture.md (``refine.refine``, ``ops.records.upsert_rows``)
  is a module, or a function/class defined in one, so the walk through an ingest run stays true.
"""

from __future__ import annotations

import ast
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"\.\./shared|shared/DESIGN|STACK_NOTES")
PACKAGES = ("data_platform", "training", "serving", "codemill", "jobs")
# Where a short name in the prose (``refine.refine``, ``entry.ingest``) may start from.
SEARCH_ROOTS = (ROOT, ROOT / "data_platform", ROOT / "training", ROOT / "data_platform" / "ingest")
TABLES = {path.stem for path in (ROOT / "schemas").glob("*.yaml")}


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = []
    for name in listed.splitlines():
        path = ROOT / name
        if path.suffix in {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".txt", ".cfg", ".json", ".ts"} \
                or path.name in {"Makefile", "Dockerfile"}:
            files.append(path)
    return files


def test_nothing_points_outside_the_repository():
    offenders = []
    for path in _tracked_text_files():
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == []


@cache
def _defined_names(module_file: Path) -> set[str]:
    tree = ast.parse(module_file.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _resolves(dotted: str) -> bool:
    """``a.b.c``: a module path, or a module path plus one name it defines (package prefix optional)."""
    for root in SEARCH_ROOTS:
        parts = dotted.split(".")
        for split in range(len(parts), 0, -1):
            base = root.joinpath(*parts[:split])
            module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
            if not module.is_file():
                continue
            rest = parts[split:]
            if not rest or (len(rest) == 1 and rest[0] in _defined_names(module)):
                return True
    return False


def _code_names() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    names = set()
    for code in re.findall(r"`([^`\n]+)`", text):
        for token in re.findall(r"\b[a-z_][a-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b", code):
            head = token.split(".")[0]
            if token in TABLES or token.endswith((".py", ".md", ".yaml", ".log")):
                continue  # a table or a file name, not code
            if any((root / head).is_dir() or (root / f"{head}.py").is_file() for root in SEARCH_ROOTS):
                names.add(token)
    return sorted(names)


def test_architecture_names_code_that_exists():
    names = _code_names()
    assert len(names) > 30  # the walk names its steps
    assert [name for name in names if not _resolves(name)] == []


@pytest.mark.parametrize("name", ["refine.no_such_step", "ops.records.upsert_everything"])
def test_a_stale_name_would_be_caught(name):
    assert not _resolves(name)
