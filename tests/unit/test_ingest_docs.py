"""Documentation trees: pages → sections (HTML, Markdown, reST), the docs source reader, curation of a section."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_platform.ingest import errors as E
from data_platform.ingest.curate import curate_file
from data_platform.ingest.doc_pages import DocSection, page_sections, render_section
from data_platform.ingest.sources import Limits, list_source, read_entries, source_kind
from data_platform.ingest.sources.docs import declared_license

LIMITS = Limits(1_000_000, 10_000_000, 100.0)
PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html")

SPHINX_PAGE = """<html><head><title>t</title><script>var x = "<h1>no</h1>";</script></head><body>
<div class="related" role="navigation"><ul><li><a href="index.html">index</a></li></ul></div>
<div class="body" role="main">
<section id="module-textwrap"><h1>textwrap — Wrap text<a class="headerlink" href="#module-textwrap">¶</a></h1>
<p>Wraps <em>paragraphs</em>; see <a href="string.html#string.Template">Template</a> and
<a href="https://example.org/wrap">the spec</a>.</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="kn">import</span> textwrap
textwrap.wrap(&quot;a b&quot;, 1)
</pre></div></div>
<section id="shortening"><h2>Shortening<a class="headerlink" href="#shortening">¶</a></h2>
<p>Use &lt;shorten&gt; &amp; friends.</p>
<div class="highlight-none notranslate"><div class="highlight"><pre>plain output</pre></div></div>
</section></section></div>
<div class="footer">© footer <a href="copyright.html">Copyright</a></div></body></html>"""

MARKDOWN_PAGE = """# Guide

Intro with a [link](https://example.org/a) and <https://example.org/b>.

## Install

```bash
pip install thing
```

```
no language here
```

## Empty
### Usage
Call it:

~~~python
# not a heading
thing.run()
~~~
"""

RST_PAGE = """=====
Guide
=====

Intro, see `the site <https://example.org/rst>`_.

Install
-------

.. code-block:: console
   :caption: shell

   $ pip install thing

Example::

    thing.run()

Details
~~~~~~~
Only prose.
"""


def _shape(sections: list[DocSection]):
    return [(s.anchor, s.heading_path, [(b.language, b.code) for b in s.code_blocks]) for s in sections]


def test_html_sections_read_the_main_content_with_languages_links_and_entities():
    sections = page_sections("library/textwrap.html", SPHINX_PAGE)
    assert _shape(sections) == [
        ("module-textwrap", ["textwrap — Wrap text"], [("python", 'import textwrap\ntextwrap.wrap("a b", 1)\n')]),
        ("shortening", ["textwrap — Wrap text", "Shortening"], [(None, "plain output")]),
    ]
    assert sections[0].prose == "Wraps paragraphs; see Template and the spec."
    assert sections[0].links == ["string.html#string.Template", "https://example.org/wrap"]
    assert sections[1].prose == "Use <shorten> & friends."
    everything = " ".join(s.prose for s in sections)
    assert "index" not in everything and "footer" not in everything and "¶" not in everything


def test_markdown_sections_take_fence_languages_and_skip_empty_headings():
    sections = page_sections("guide.md", MARKDOWN_PAGE)
    assert _shape(sections) == [
        ("guide", ["Guide"], []),
        ("install", ["Guide", "Install"], [("bash", "pip install thing\n"), (None, "no language here\n")]),
        ("usage", ["Guide", "Empty", "Usage"], [("python", "# not a heading\nthing.run()\n")]),
    ]
    assert sections[0].links == ["https://example.org/a", "https://example.org/b"]


def test_rst_sections_read_titles_code_block_directives_and_literal_blocks():
    sections = page_sections("guide.rst", RST_PAGE)
    assert _shape(sections) == [
        ("guide", ["Guide"], []),
        ("install", ["Guide", "Install"], [("bash", "$ pip install thing\n"), ("python", "thing.run()\n")]),  # detected
        ("details", ["Guide", "Install", "Details"], []),
    ]
    assert sections[0].links == ["https://example.org/rst"] and sections[1].prose == "Example:"


def test_a_section_renders_into_the_documented_template():
    section = page_sections("guide.md", MARKDOWN_PAGE)[1]
    assert render_section(section, "/docs/tree") == (
        "# Guide > Install\n\n```bash\npip install thing\n```\n\n```\nno language here\n```\n\n"
        "Source: /docs/tree/guide.md#install\n")


def test_docs_specs_carry_a_license_option_and_refuse_others():
    assert source_kind("docs:/some/where#license=PSF-2.0") == "docs"
    assert declared_license("license=PSF-2.0") == "PSF-2.0" and declared_license(None) is None
    with pytest.raises(E.SourceError, match="expected license=SPDX-ID"):
        declared_license("licence=MIT")


def test_the_docs_reader_lists_pages_and_reads_one_record_per_section(tmp_path):
    (tmp_path / "guide.md").write_text(MARKDOWN_PAGE)
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "guide.rst").write_text(RST_PAGE)
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "broken.html").write_bytes(b"<p>\x00\x00 binary</p>")
    listing = list_source(f"docs:{tmp_path}#license=CC-BY-4.0", LIMITS)
    assert listing.info.kind == "docs" and listing.declared_license == "CC-BY-4.0"
    assert sorted(e.path for e in listing.entries) == ["api/guide.rst", "broken.html", "guide.md"]
    records = list(read_entries(listing.info, listing.entries, LIMITS))
    paths = {r.path: r for r in records}
    assert {"guide.md#install", "guide.md#usage", "api/guide.rst#details"} <= set(paths)
    assert paths["broken.html"].error_kind == E.BINARY and paths["broken.html"].content is None
    assert DocSection.from_json(paths["guide.md#usage"].content.decode()).heading_path == ["Guide", "Empty", "Usage"]


def test_curating_a_section_renders_redacts_and_returns_its_doc_sections_row():
    section = page_sections("guide.md", MARKDOWN_PAGE.replace("Call it:", "Mail ann.lee@acme-widgets.com, call it:"))[2]
    curated = curate_file("r", "/docs/tree", "c", section.path, section.to_json().encode(), "b", "CC-BY-4.0",
                          document_kind="docs")
    silver, row = curated.silver, curated.doc_section
    assert (silver["source_kind"], silver["language"], silver["parse_ok"]) == ("docs", "python", None)
    assert silver["text"].startswith("# Guide > Empty > Usage\n") and "ann.lee@acme-widgets.com" not in silver["text"]
    assert silver["pii_email_count"] == 1
    assert row["section_id"] == silver["file_id"] and row["page"] == "guide.md" and row["anchor"] == "usage"
    assert "ann.lee@acme-widgets.com" not in row["prose"] and row["code_languages"] == ["python"]
    damaged = curate_file("r", "/docs/tree", "c", "x.md#a", b"{not json", "b", None, document_kind="docs")
    assert damaged.silver["text"] is None and damaged.errors[0]["kind"] == "bad_page"


@pytest.mark.skipif(not PYTHON_DOCS.is_dir(), reason="python3-doc is not installed (scripts/bootstrap.sh installs it)")
def test_real_python_documentation_pages_give_sections_with_python_code():
    sections = [s for page in ("library/shlex.html", "library/textwrap.html", "tutorial/controlflow.html")
                for s in page_sections(page, (PYTHON_DOCS / page).read_text(encoding="utf-8"))]
    assert len(sections) >= 15
    titles = {s.heading_path[-1] for s in sections}
    assert "4. More Control Flow Tools" in {s.heading_path[0] for s in sections} and "Parsing Rules" in titles
    languages = {b.language for s in sections for b in s.code_blocks}
    assert "python" in languages
    assert all(s.prose or s.code_blocks for s in sections)
    assert not any("Navigation" in s.prose or "©" in s.prose for s in sections)
