"""Long functions hide a flow: no body over 60 lines in the pipeline packages without a stated reason.

The body is counted from its first statement after the docstring: a command's signature and
docstring are its option table and help text (typer), not flow. A body may be longer when a comment near its start says why
(``# long: …``); everything else is split into named steps.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("codemill", "jobs", "serving", "training", "data_platform")
MAX_LINES = 60


def _long_functions() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text()
            lines = source.splitlines()
            for node in ast.walk(ast.parse(source)):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                first = node.body[0]
                is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str)
                start = node.body[1].lineno if is_docstring and len(node.body) > 1 else first.lineno
                length = node.end_lineno - start + 1
                head = "\n".join(lines[node.lineno - 1 : start + 12])
                if length > MAX_LINES and "# long:" not in head:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_unexplained_long_function():
    assert _long_functions() == []


def test_the_check_sees_a_long_body_and_accepts_a_stated_reason(tmp_path, monkeypatch):
    package = tmp_path / "codemill"
    package.mkdir()
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_LINES + 1))
    (package / "m.py").write_text(f"def sprawling(\n    a=1,\n    b=2,\n):\n{body}\n\n\n"
                                  f"def explained():\n    # long: one table\n{body}\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGES", ("codemill",))
    assert _long_functions() == [f"codemill/m.py:1 sprawling ({MAX_LINES + 1} lines)"]
