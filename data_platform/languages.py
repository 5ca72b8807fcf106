"""Language of a file from its name, using the filename patterns Pygments maintains.

Pygments ships a table of ~600 lexers with the filename globs each claims
(``pygments.lexers._mapping.LEXERS``); we index it once per process instead of calling
``get_lexer_for_filename`` per file, which imports lexer modules and scans every glob.
A language is named by the lexer's first alias (``python``, ``cpp``, ``csharp``, ``bash``).
When several lexers claim a pattern (``*.h``: C, C++, Objective-C), the languages we parse
win, then widely used formats, then Pygments' own table order.
"""

from __future__ import annotations

import fnmatch
from functools import cache

# Languages with a tree-sitter grammar come first, in the order they win ties.
PARSED_LANGUAGES = ("python", "javascript", "typescript", "java", "go", "rust", "c", "cpp", "csharp", "ruby", "php", "bash")
_PREFERRED = (*PARSED_LANGUAGES, "html", "css", "json", "yaml", "markdown", "toml", "make", "text", "rst", "xml", "sql")


@cache
def _index() -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """(exact file names, extensions, other globs) → language id."""
    from pygments.lexers._mapping import LEXERS

    rank = {name: i for i, name in enumerate(_PREFERRED)}
    entries = []
    for order, (_module, _name, aliases, patterns, _mimes) in enumerate(LEXERS.values()):
        if not aliases:
            continue
        language = aliases[0]
        entries.append((rank.get(language, len(rank)), order, language, patterns))
    entries.sort()
    names: dict[str, str] = {}
    extensions: dict[str, str] = {}
    globs: list[tuple[str, str]] = []
    for _rank, _order, language, patterns in entries:
        for pattern in patterns:
            if not any(ch in pattern for ch in "*?["):
                names.setdefault(pattern, language)
            elif pattern.startswith("*.") and not any(ch in pattern[2:] for ch in "*?["):
                extensions.setdefault(pattern[1:], language)
            else:
                globs.append((pattern, language))
    return names, extensions, globs


@cache
def known_languages() -> tuple[str, ...]:
    """Every language id detection can assign (the first alias of each Pygments lexer)."""
    from pygments.lexers._mapping import LEXERS

    return tuple(sorted({aliases[0] for _module, _name, aliases, _patterns, _mimes in LEXERS.values() if aliases}))


def detect_language(path: str) -> str | None:
    """Language id for a repository path, or None when no Pygments lexer claims the name."""
    name = path.rsplit("/", 1)[-1]
    names, extensions, globs = _index()
    if name in names:
        return names[name]
    dot = name.rfind(".")
    while dot > 0:  # ".d.ts" before ".ts"; a leading dot (".bashrc") is a name, not an extension
        suffix = name[dot:]
        found = extensions.get(suffix) or extensions.get(suffix.lower())
        if found:
            return found
        dot = name.rfind(".", 0, dot)
    for pattern, language in globs:
        if fnmatch.fnmatchcase(name, pattern):
            return language
    return None
