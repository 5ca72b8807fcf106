"""A Stack Exchange thread → its training text and its ``silver.qa_threads`` row.

Post bodies are HTML; they are read with the documentation HTML parser (prose, ``<pre>`` code
blocks with the ``lang-*`` class Stack Exchange's editor writes, links). The training
template (docs/sources.md) puts the question first, then the accepted answer, then the other
kept answers by score, and ends with the attribution CC BY-SA requires: the thread's URL, the
authors and the licence version.
"""

from __future__ import annotations

from data_platform.ingest.doc_html import html_sections
from data_platform.ingest.doc_pages import block_language
from data_platform.ingest.qa_posts import Post, Thread, license_for
from data_platform.languages import known_languages

# Tags that name a language under another spelling (Stack Overflow's tags → language ids).
_TAG_LANGUAGES = {"c#": "csharp", "c++": "cpp", "python-3.x": "python", "python-2.7": "python", "node.js": "javascript",
                  "reactjs": "javascript", "shell": "bash", "golang": "go", "objective-c": "objective-c"}


def tag_languages(tags: list[str]) -> list[str]:
    """Languages a thread's tags name, in tag order (``python``, ``c#`` → python, csharp)."""
    known = set(known_languages())
    found = [_TAG_LANGUAGES.get(tag, tag) for tag in tags]
    return list(dict.fromkeys(name for name in found if name in known))


def body_parts(body: str, hint: str | None = None) -> tuple[str, list[tuple[str | None, str]], list[str]]:
    """(prose, [(language, code)], links) of a post's HTML body; ``hint`` (the thread's first tag
    language) breaks ties when a block's language is detected."""
    prose, blocks, links = [], [], []
    for _anchor, _headings, text, code, refs in html_sections(body):
        prose.append(text)
        blocks += [(block_language(lang, snippet, hint), snippet) for lang, snippet in code]
        links += refs
    return "\n\n".join(p for p in prose if p), blocks, links


def thread_url(site: str, question_id: int) -> str:
    return f"https://{site}/q/{question_id}" if "." in site else f"stackexchange:{site}/q/{question_id}"


def _post_text(post: Post, default_language: str | None) -> str:
    prose, blocks, _links = body_parts(post.body, default_language)
    lines = [prose, ""] if prose else []
    for language, code in blocks:
        lines += [f"```{language or default_language or ''}", code.rstrip("\n"), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def authors(thread: Thread) -> list[str]:
    posts = [thread.question, *([thread.accepted] if thread.accepted else []), *thread.answers]
    return list(dict.fromkeys(post.author for post in posts if post.author))


def render_thread(thread: Thread, site: str) -> str:
    """The training document of a thread (template in docs/sources.md)."""
    languages = tag_languages(thread.tags)
    first = languages[0] if languages else None
    parts = [f"# {thread.title}", "", f"Tags: {', '.join(thread.tags)}", "", _post_text(thread.question, first)]
    if thread.accepted:
        parts += [f"## Accepted answer (score {thread.accepted.score})", "", _post_text(thread.accepted, first)]
    for answer in thread.answers:
        parts += [f"## Answer (score {answer.score})", "", _post_text(answer, first)]
    parts.append(f"Source: {thread_url(site, thread.question_id)} by {', '.join(authors(thread)) or 'unknown'}, "
                 f"{license_for(thread.question.created)}")
    return "\n".join(parts) + "\n"


def thread_row(thread: Thread, site: str, redact) -> dict:
    """The silver.qa_threads columns of a thread; ``redact(text) -> text`` is curation's PII redactor."""
    _prose, blocks, _links = body_parts(thread.question.body)
    for post in ([thread.accepted] if thread.accepted else []) + thread.answers:
        blocks += body_parts(post.body)[1]
    return {
        "question_id": thread.question_id, "site": site, "title": redact(thread.title),
        "question": redact(body_parts(thread.question.body)[0]),
        "accepted_answer": redact(_post_text(thread.accepted, None)) if thread.accepted else None,
        "answers": [redact(_post_text(answer, None)) for answer in thread.answers],
        "answer_scores": [answer.score for answer in thread.answers],
        "question_score": thread.question.score, "tags": thread.tags, "languages": tag_languages(thread.tags),
        "code_blocks": [redact(code) for _lang, code in blocks], "created_at": thread.question.created,
        "url": thread_url(site, thread.question_id), "authors": authors(thread),
        "license_spdx": license_for(thread.question.created),
    }
