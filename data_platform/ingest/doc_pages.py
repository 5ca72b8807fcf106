"""Documentation pages (HTML, Markdown, reStructuredText) → sections with prose, code and links.

A page becomes one :class:`DocSection` per heading: its heading path (page title down to
the heading), the prose under it, its code blocks with their language and its links. The
language of a code block comes from the markup: Sphinx's ``highlight-LANG`` class or a
``language-LANG`` class in HTML, a fenced block's info string in Markdown, the argument of
``.. code-block::`` in reST; a block whose markup names none gets the language whose tree-sitter
grammar parses it best (:mod:`data_platform.ingest.code_language`), ``None`` when none does.

Pure functions, no I/O: the docs source reader (:mod:`data_platform.ingest.sources.docs`)
calls :func:`page_sections` on each page it reads, and :func:`render_section` gives the
training text of a section (the template is documented in docs/sources.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from data_platform.ingest.code_language import detect_code_language
from data_platform.ingest.doc_html import html_sections
from data_platform.ingest.doc_markup import markdown_sections, rst_sections

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
MARKDOWN_SUFFIXES = (".md", ".markdown")
RST_SUFFIXES = (".rst", ".rest")
PAGE_SUFFIXES = (*HTML_SUFFIXES, *MARKDOWN_SUFFIXES, *RST_SUFFIXES)
SECTION_SEPARATOR = "#"  # a section's path is "<page>#<anchor>"


@dataclass
class CodeBlock:
    language: str | None
    code: str


@dataclass
class DocSection:
    page: str  # path of the page inside the tree
    anchor: str  # fragment that addresses the section in the page
    heading_path: list[str]  # page title → … → this heading
    prose: str  # paragraphs separated by blank lines
    code_blocks: list[CodeBlock] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{self.page}{SECTION_SEPARATOR}{self.anchor}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DocSection:
        data = json.loads(text)
        data["code_blocks"] = [CodeBlock(**block) for block in data.get("code_blocks", [])]
        return cls(**data)


def is_page(path: str) -> bool:
    return path.lower().endswith(PAGE_SUFFIXES)


def page_sections(page: str, text: str) -> list[DocSection]:
    """The sections of one page; those with neither prose nor code (a heading right above another) are left out."""
    lower = page.lower()
    if lower.endswith(HTML_SUFFIXES):
        raw = html_sections(text)
    elif lower.endswith(MARKDOWN_SUFFIXES):
        raw = markdown_sections(text)
    elif lower.endswith(RST_SUFFIXES):
        raw = rst_sections(text)
    else:
        return []
    sections, used = [], set()
    hint = page_language([lang for _, _, _, blocks, _ in raw for lang, _ in blocks])
    for anchor, headings, prose, blocks, links in raw:
        if not prose.strip() and not blocks:
            continue
        anchor = _unique(anchor or slug(headings[-1] if headings else "top"), used)
        sections.append(DocSection(page, anchor, headings, prose.strip(),
                                   [CodeBlock(block_language(lang, code, hint), code) for lang, code in blocks],
                                   list(dict.fromkeys(links))))
    return sections


def page_language(markup_languages: list[str | None]) -> str | None:
    """The language most labelled blocks of a page name: the tie-break for its unlabelled ones."""
    counts: dict[str, int] = {}
    for name in map(normal_language, markup_languages):
        if name:
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda name: (counts[name], name)) if counts else None


def block_language(markup: str | None, code: str, hint: str | None = None) -> str | None:
    """A code block's language: what its markup names, else detected (decision 0192).

    ``markup`` is None only when the markup is silent; a block marked ``text`` or ``none`` is
    output or prose on purpose and is not detected.
    """
    if markup is None:
        return detect_code_language(code, hint)
    return normal_language(markup)


def _unique(anchor: str, used: set[str]) -> str:
    candidate, n = anchor, 1
    while candidate in used:
        n += 1
        candidate = f"{anchor}-{n}"
    used.add(candidate)
    return candidate


def slug(heading: str) -> str:
    """The anchor Markdown renderers give a heading: lower case, words joined by '-'."""
    words = re.findall(r"[\w]+", heading.lower())
    return "-".join(words) or "section"


# Markup language names → the language ids detection uses (Pygments' first alias).
_LANGUAGES = {"python3": "python", "py": "python", "py3": "python", "default": "python", "pycon": "python",
              "ipython": "python", "js": "javascript", "ts": "typescript", "sh": "bash", "shell": "bash",
              "console": "bash", "shell-session": "bash", "c++": "cpp", "cs": "csharp", "c#": "csharp",
              "yml": "yaml", "rs": "rust", "golang": "go"}
_NO_LANGUAGE = {"", "none", "text", "txt", "plain", "output"}


def normal_language(name: str | None) -> str | None:
    """A markup language name in the ids the rest of the platform uses; None when it names none.

    ``default`` is Sphinx's configured highlight language, Python for the Python docs and for
    Sphinx itself unless a project sets another (a documented simplification).
    """
    if name is None:
        return None
    name = name.strip().lower()
    if name in _NO_LANGUAGE:
        return None
    return _LANGUAGES.get(name, name)


def render_section(section: DocSection, source: str) -> str:
    """The training document of a section (template in docs/sources.md)."""
    lines = [f"# {' > '.join(section.heading_path) or section.page}", ""]
    if section.prose:
        lines += [section.prose, ""]
    for block in section.code_blocks:
        lines += [f"```{block.language or ''}", block.code.rstrip("\n"), "```", ""]
    lines.append(f"Source: {source.rstrip('/')}/{section.path}")
    return "\n".join(lines) + "\n"


def main_language(section: DocSection) -> str:
    """The gold language of a section: its code blocks' most common language, else markdown."""
    counts: dict[str, int] = {}
    for block in section.code_blocks:
        if block.language:
            counts[block.language] = counts.get(block.language, 0) + 1
    return max(counts, key=lambda name: (counts[name], name)) if counts else "markdown"
