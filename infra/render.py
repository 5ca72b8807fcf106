"""Render codemill's Kubernetes manifests: fill ``${NAME}`` / ``${NAME:-default}`` placeholders.

    python infra/render.py infra/spark/k8s/ingest-sparkapplication.yaml CODEMILL_IMAGE_TAG=0.2.0 | kubectl apply -f -
    python infra/render.py --list infra/ray/k8s/*.yaml          # every variable, its default and where it is used

Values come from, later winning: the default written in the placeholder, the environment
(as with envsubst), then ``NAME=VALUE`` arguments. A placeholder without a default and without
a value is an error that names it; ``$$`` stands for a literal ``$``. Only upper-case names in
braces are placeholders, so shell text such as ``$HOME`` or ``$(date)`` passes through.

Standard library only, so it runs anywhere ``kubectl`` does. The manifest tests render every
template with this same function before validating it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\$|\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


class MissingValues(ValueError):
    """Placeholders without a default were given no value."""

    def __init__(self, names: list[str], source: str):
        self.names = names
        super().__init__(f"{source}: no value for {', '.join(names)} (pass NAME=VALUE or set the environment)")


def placeholders(text: str) -> dict[str, str | None]:
    """Every placeholder name in ``text`` with its default (None when it has none)."""
    found: dict[str, str | None] = {}
    for match in PLACEHOLDER.finditer(text):
        name, default = match.group(1), match.group(2)
        if name is not None and found.get(name) is None:
            found[name] = default
    return found


def render(text: str, values: Mapping[str, str] | None = None, source: str = "template") -> str:
    """``text`` with every placeholder replaced by its value, else its default."""
    values = values or {}
    missing: list[str] = []

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "$"
        if name in values:
            return values[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    rendered = PLACEHOLDER.sub(substitute, text)
    if missing:
        raise MissingValues(sorted(set(missing)), source)
    return rendered


def render_file(path: Path, values: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Render one template file; ``environ`` (default: none) supplies values below ``values``."""
    merged = {**(environ or {}), **(values or {})}
    return render(Path(path).read_text(encoding="utf-8"), merged, source=str(path))


def _parse_assignments(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    files, values = [], {}
    for argument in arguments:
        name, sep, value = argument.partition("=")
        if sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            values[name] = value
        else:
            files.append(argument)
    return files, values


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if arguments else 2
    listing = arguments[0] == "--list"
    files, values = _parse_assignments(arguments[1:] if listing else arguments)
    if not files:
        print("render.py: no template given", file=sys.stderr)
        return 2
    if listing:
        for file in files:
            for name, default in placeholders(Path(file).read_text(encoding="utf-8")).items():
                print(f"{name}\t{default if default is not None else '(required)'}\t{file}")
        return 0
    documents = []
    for file in files:
        try:
            documents.append(render_file(Path(file), values, os.environ).strip("\n"))
        except MissingValues as err:
            print(f"render.py: {err}", file=sys.stderr)
            return 2
        except OSError as err:
            print(f"render.py: {file}: {err.strerror}", file=sys.stderr)
            return 2
    print("\n---\n".join(documents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
