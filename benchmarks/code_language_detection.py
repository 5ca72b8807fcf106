"""Which detector names an unlabelled code block's language right more often: tree-sitter or Pygments.

Ground truth: the code blocks of the Python documentation (Debian's python3-doc) whose Sphinx
markup names a language the platform parses (python3/pycon/default → python, c, shell → bash).
Each block's label is hidden and guessed by :func:`detect_code_language` (fewest tree-sitter
error nodes, decision 0192) and by Pygments' ``guess_lexer``, in this process on the same
blocks. Sphinx labels some shell commands and doctest output ``python3``: both detectors are
scored against the label as written. Prints one JSON object; ``ratio`` = tree-sitter accuracy
over Pygments accuracy.

    .venv/bin/python benchmarks/code_language_detection.py [--pages 400]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_platform.ingest.code_language import detect_code_language  # noqa: E402
from data_platform.ingest.doc_html import html_sections  # noqa: E402
from data_platform.ingest.doc_pages import normal_language  # noqa: E402

PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html")
SCORED = ("python", "c", "bash")


def labelled_blocks(pages: int) -> list[tuple[str, str]]:
    """(language, code) of the labelled blocks of a seeded sample of pages."""
    paths = sorted(PYTHON_DOCS.rglob("*.html"))
    random.Random(0).shuffle(paths)
    blocks = []
    for path in paths[:pages]:
        for _anchor, _headings, _prose, code, _links in html_sections(path.read_text(errors="replace")):
            blocks += [(normal_language(lang), snippet) for lang, snippet in code if normal_language(lang) in SCORED]
    return blocks


def pygments_guess(code: str) -> str | None:
    from pygments.lexers import guess_lexer
    from pygments.util import ClassNotFound

    try:
        lexer = guess_lexer(code)
    except ClassNotFound:
        return None
    return normal_language(lexer.aliases[0]) if lexer.aliases else None


def score(blocks, guess) -> dict:
    started, right, wrong = time.perf_counter(), 0, Counter()
    for language, code in blocks:
        guessed = guess(code)
        right += guessed == language
        if guessed != language:
            wrong[f"{language}->{guessed}"] += 1
    return {"accuracy": round(right / len(blocks), 4), "right": right, "seconds": round(time.perf_counter() - started, 2),
            "top_errors": dict(wrong.most_common(5))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    args = parser.parse_args()
    if not PYTHON_DOCS.is_dir():
        sys.exit(f"{PYTHON_DOCS} not found: install Debian's python3-doc (scripts/bootstrap.sh does as root)")
    blocks = labelled_blocks(args.pages)
    tree_sitter, pygments = score(blocks, detect_code_language), score(blocks, pygments_guess)
    print(json.dumps({
        "benchmark": "code_language_detection", "pages": args.pages, "blocks": len(blocks),
        "by_language": dict(Counter(language for language, _ in blocks)),
        "tree_sitter": tree_sitter, "pygments": pygments,
        "ratio": round(tree_sitter["accuracy"] / pygments["accuracy"], 3),
    }))


if __name__ == "__main__":
    main()
