"""Markdown and reStructuredText pages → raw sections, line by line (no renderer needed).

Markdown: ATX headings (``#`` … ``######``) open sections; fenced blocks (``` or ~~~) are
code, their language the first word of the info string; ``[text](url)`` and ``<url>`` are
links. reST: a title is a line underlined (optionally overlined) with one repeated
punctuation character, its level the order in which adornment styles first appear (reST's
own rule); ``.. code-block:: LANG`` / ``.. code:: LANG`` / ``.. sourcecode:: LANG`` and
``::`` literal blocks (no language) are code; ``\\`text <url>\\`_`` and bare URLs are links.
"""

from __future__ import annotations

import re

from data_platform.ingest.doc_html import RawSection, _paragraphs

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)[^)]*\)|<(https?://[^>\s]+)>")
_RST_DIRECTIVE = re.compile(r"^\.\.\s+(?:code-block|code|sourcecode)::\s*(\S*)\s*$")
_RST_LINK = re.compile(r"`[^`<]*<([^>]+)>`_{1,2}|(?<![<`])(https?://[^\s>`]+)")
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")


class _Sections:
    """Accumulates sections while a page is read line by line."""

    def __init__(self):
        self.sections: list[RawSection] = []
        self.levels: list[tuple[object, str]] = []
        self.prose: list[str] = []
        self.blocks: list[tuple[str | None, str]] = []
        self.links: list[str] = []
        self.anchor = ""

    def heading(self, level, text: str) -> None:
        self.flush()
        if isinstance(level, int):
            self.levels = [(lvl, t) for lvl, t in self.levels if lvl < level] + [(level, text)]
        self.anchor = ""

    def flush(self) -> None:
        self.sections.append((self.anchor, [t for _, t in self.levels], _paragraphs("\n".join(self.prose)),
                              self.blocks, self.links))
        self.prose, self.blocks, self.links = [], [], []


def markdown_sections(text: str) -> list[RawSection]:
    out = _Sections()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        heading = _ATX.match(line)
        if fence:
            marker, body, i = fence.group(1), [], i + 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            out.blocks.append((fence.group(2) or None, "\n".join(body) + "\n"))
        elif heading:
            out.heading(len(heading.group(1)), heading.group(2))
        else:
            out.prose.append(line)
            out.links += [a or b for a, b in _MD_LINK.findall(line)]
        i += 1
    out.flush()
    return out.sections


def _indented_block(lines: list[str], i: int) -> tuple[str, int]:
    """The indented block starting at or after ``lines[i]`` (blank lines inside kept), dedented."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    body = []
    while i < len(lines) and (not lines[i].strip() or lines[i][:1] in (" ", "\t")):
        body.append(lines[i])
        i += 1
    while body and not body[-1].strip():
        body.pop()
    indent = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
    return "\n".join(b[indent:] for b in body) + "\n", i


def _rst_title(lines: list[str], i: int) -> tuple[str, str, int] | None:
    """(adornment style, title, lines used) when a title starts at ``lines[i]``."""
    over = _ADORNMENT.match(lines[i])
    if over and i + 2 < len(lines) and _ADORNMENT.match(lines[i + 2]) and lines[i + 1].strip():
        return "over" + over.group(1), lines[i + 1].strip(), 3
    if lines[i].strip() and not lines[i].startswith((" ", "\t")) and i + 1 < len(lines):
        under = _ADORNMENT.match(lines[i + 1])
        if under and len(lines[i + 1].rstrip()) >= len(lines[i].rstrip()):
            return under.group(1), lines[i].strip(), 2
    return None


def rst_sections(text: str) -> list[RawSection]:
    out = _Sections()
    styles: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        title = _rst_title(lines, i)
        directive = _RST_DIRECTIVE.match(lines[i])
        if title:
            style, heading, used = title
            styles += [] if style in styles else [style]
            out.heading(styles.index(style) + 1, heading)
            i += used
            continue
        if directive:
            i += 1
            while i < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[i]):  # directive options
                i += 1
            code, i = _indented_block(lines, i)
            out.blocks.append((directive.group(1) or None, code))
            continue
        line = lines[i]
        out.links += [a or b for a, b in _RST_LINK.findall(line)]
        if line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            out.prose.append(line.rstrip()[:-1])  # "Example::" reads "Example:"
            code, i = _indented_block(lines, i + 1)
            out.blocks.append((None, code))
            continue
        if not line.lstrip().startswith(".."):
            out.prose.append(line)
        i += 1
    out.flush()
    return out.sections
