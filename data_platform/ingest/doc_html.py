"""HTML documentation pages → raw sections, with the standard library's HTML parser.

Only the page's main content is read when it marks one (``role="main"``, as Sphinx's
``div.body`` does, or ``<main>``): navigation bars, sidebars and footers repeat on every page and teach nothing.
Headings (h1–h6) open sections; ``<pre>`` blocks are code, their language taken from the
nearest ``highlight-LANG`` (Sphinx) or ``language-LANG`` class around them; Sphinx's
permalink anchors (``a.headerlink``, the "¶") are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# (anchor, heading path, prose, [(language, code)], links)
RawSection = tuple[str, list[str], str, list[tuple[str | None, str]], list[str]]
_BLOCK_TAGS = frozenset({"p", "div", "li", "dt", "dd", "br", "tr", "table", "ul", "ol", "dl", "blockquote",
                         "section", "hr", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED = frozenset({"script", "style", "nav", "header", "footer", "noscript"})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"})
_LANGUAGE_CLASS = re.compile(r"(?:^|\s)(?:highlight|language|lang)-([\w+#.-]+)")


def _marks_main(tag: str, attrs: dict[str, str]) -> bool:
    return tag == "main" or attrs.get("role") == "main"


class _PageParser(HTMLParser):
    def __init__(self, has_main: bool):
        super().__init__(convert_charrefs=True)
        self.has_main, self.main_depth, self.stack = has_main, None, []  # stack: (tag, language, skip)
        self.sections: list[RawSection] = []
        self.levels: list[tuple[int, str]] = []  # open headings: (level, text)
        self.anchor, self.last_id = "", ""
        self.prose: list[str] = []
        self.blocks: list[tuple[str | None, str]] = []
        self.links: list[str] = []
        self.heading: list[str] | None = None
        self.heading_level = 0
        self.code: list[str] | None = None

    # -- state helpers
    def _reading(self) -> bool:
        return (not self.has_main or self.main_depth is not None) and not any(skip for _, _, skip in self.stack)

    def _language(self) -> str | None:
        return next((lang for _, lang, _ in reversed(self.stack) if lang), None)

    def _flush(self) -> None:
        headings = [text for _, text in self.levels]
        self.sections.append((self.anchor, headings, _paragraphs("".join(self.prose)), self.blocks, self.links))
        self.prose, self.blocks, self.links = [], [], []

    # -- parser callbacks
    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if self.has_main and self.main_depth is None and _marks_main(tag, attrs):
            self.main_depth = len(self.stack)
        found = _LANGUAGE_CLASS.search(attrs.get("class", ""))
        skip = tag in _SKIPPED or "headerlink" in attrs.get("class", "").split()
        if tag not in _VOID:
            self.stack.append((tag, found.group(1) if found else None, skip))
        if attrs.get("id"):
            self.last_id = attrs["id"]
        if not self._reading():
            return
        self._open(tag, attrs)

    def _open(self, tag: str, attrs: dict[str, str]) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading, self.heading_level = [], int(tag[1])
            self.anchor = attrs.get("id") or self.last_id
        elif tag == "pre":
            self.code = []
        elif tag == "a" and attrs.get("href") and not attrs["href"].startswith("#"):
            self.links.append(attrs["href"])
        elif tag in _BLOCK_TAGS:
            self.prose.append("\n\n")

    def handle_endtag(self, tag):
        if not any(open_tag == tag for open_tag, _, _ in self.stack):
            return  # a stray end tag
        reading = self._reading()
        while self.stack:
            open_tag, language, _ = self.stack.pop()
            if open_tag == tag:
                break
        if self.main_depth is not None and len(self.stack) <= self.main_depth:
            self.main_depth = None  # the main element closed: the rest of the page is chrome
        if reading:
            self._close(tag, language)

    def _close(self, tag: str, language: str | None) -> None:
        if self.heading is not None and re.fullmatch(r"h[1-6]", tag):
            text = " ".join("".join(self.heading).split())
            self.levels = [(lvl, t) for lvl, t in self.levels if lvl < self.heading_level] + [(self.heading_level,
                                                                                                text)]
            self.heading = None
        elif tag == "pre" and self.code is not None:
            self.blocks.append((language or self._language(), "".join(self.code)))
            self.code = None
        elif tag in _BLOCK_TAGS:
            self.prose.append("\n\n")

    def handle_data(self, data):
        if not self._reading():
            return
        if self.heading is not None:
            self.heading.append(data)
        elif self.code is not None:
            self.code.append(data)
        else:
            self.prose.append(data)


def _paragraphs(text: str) -> str:
    """Whitespace inside a paragraph collapsed; paragraphs separated by one blank line."""
    parts = (" ".join(part.split()) for part in re.split(r"\n\s*\n", text))
    return "\n\n".join(part for part in parts if part)


def html_sections(text: str) -> list[RawSection]:
    has_main = bool(re.search(r"<main[\s>]|role=[\"']main[\"']", text, re.IGNORECASE))
    parser = _PageParser(has_main)
    parser.feed(text)
    parser.close()
    parser._flush()
    return parser.sections
