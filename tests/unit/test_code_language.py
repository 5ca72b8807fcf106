"""Unlabelled code blocks get the language whose tree-sitter grammar parses them best.

The blocks below are real: quoted from the Python documentation (python3-doc: the tutorial,
the C API reference, the doctest page) with their Sphinx labels removed, and Q&A-style
snippets as Stack Exchange bodies carry them (a bare ``<pre><code>``). When python3-doc is
installed, a seeded sample of its labelled blocks is detected with the labels hidden.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from data_platform.ingest.code_language import detect_code_language
from data_platform.ingest.doc_html import html_sections
from data_platform.ingest.doc_pages import normal_language, page_sections
from data_platform.ingest.qa_threads import body_parts

PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html")

# tutorial/controlflow.html
FIBONACCI = '''def fib(n):    # write Fibonacci series less than n
    """Print a Fibonacci series less than n."""
    a, b = 0, 1
    while a < n:
        print(a, end=' ')
        a, b = b, a+b
    print()
'''
# extending/extending.html
C_SPAM = '''static PyObject *
spam_system(PyObject *self, PyObject *args)
{
    const char *command;
    int sts;

    if (!PyArg_ParseTuple(args, "s", &command))
        return NULL;
    sts = system(command);
    return PyLong_FromLong(sts);
}
'''
# tutorial/interpreter.html (an interactive session: prompts and output)
SESSION = """>>> the_world_is_flat = True
>>> if the_world_is_flat:
...     print("Be careful not to fall off!")
...
Be careful not to fall off!
"""
# library/venv.html
SHELL = "$ python -m venv /path/to/new/virtual/environment\n"
# tutorial/modules.html: a shell command without a prompt
COMMAND_LINE = "python fibo.py 50\n"


@pytest.mark.parametrize(("code", "language"), [
    (FIBONACCI, "python"), (C_SPAM, "c"), (SESSION, "python"), (SHELL, "bash"),
    ("Files.readAllLines(path);\nint n = lines.size();\n", "java"),
    ('fn main() {\n    let v: Vec<u32> = vec![1, 2];\n    println!("{:?}", v);\n}\n', "rust"),
    ('package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hi")\n}\n', "go"),
])
def test_real_blocks_get_their_language(code, language):
    assert detect_code_language(code) == language


def test_prose_and_empty_blocks_stay_without_a_language():
    assert detect_code_language("no language here\n") is None
    # Without a bracket, operator or quote a command line reads like a sentence (a known limit).
    assert detect_code_language(COMMAND_LINE, hint="bash") is None
    assert detect_code_language("   \n\n") is None


def test_a_tie_goes_to_the_hint_then_to_the_platform_order():
    # One call parses in Python, JavaScript, Ruby …: the source's language decides.
    assert detect_code_language("xs.reverse()\n") == "python"
    assert detect_code_language("xs.reverse()\n", hint="ruby") == "ruby"
    assert detect_code_language("make -C docs > build.log\n", hint="bash") == "bash"


def test_only_silent_markup_is_detected():
    page = f"# Page\n\n```\n{FIBONACCI}```\n\n```text\n{FIBONACCI}```\n\n```c\n{FIBONACCI}```\n"
    blocks = page_sections("page.md", page)[0].code_blocks
    assert [b.language for b in blocks] == ["python", None, "c"]  # detected; marked plain; as marked


def test_unlabelled_answer_snippets_are_detected_with_the_tag_as_hint():
    body = f"<p>Like this:</p><pre><code>{C_SPAM}</code></pre><pre><code>xs.reverse()\n</code></pre>"
    _prose, blocks, _links = body_parts(body, hint="python")
    assert [language for language, _ in blocks] == ["c", "python"]


@pytest.mark.skipif(not PYTHON_DOCS.is_dir(), reason="python3-doc is not installed")
def test_most_labelled_python_doc_blocks_are_detected_with_their_label_hidden():
    pages = sorted(PYTHON_DOCS.rglob("*.html"))
    random.Random(7).shuffle(pages)
    blocks = []
    for path in pages[:60]:
        for _anchor, _headings, _prose, code, _links in html_sections(path.read_text(errors="replace")):
            blocks += [(normal_language(lang), text) for lang, text in code if normal_language(lang) in ("python", "c")]
    assert len(blocks) >= 100
    right = sum(detect_code_language(text) == language for language, text in blocks)
    assert right / len(blocks) >= 0.8, (right, len(blocks))  # measured 0.89 on 400 pages (decision 0192)
