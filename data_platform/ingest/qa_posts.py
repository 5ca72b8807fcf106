"""Stack Exchange data dumps (``Posts.xml``) → question threads, streamed with bounded memory.

A dump's ``Posts.xml`` is one ``<posts>`` element with a ``<row …/>`` per post (questions:
``PostTypeId=1``; answers: ``PostTypeId=2`` with ``ParentId``), ordered by ``Id``; dumps run to
tens of GB, so the file is never loaded whole: :func:`iter_rows` walks it with ``iterparse``
and clears each element once read. Threads are assembled in two passes over the file:

1. :func:`choose_answers` keeps, per question that passes the filters, its accepted answer id
   and the ids of its ``top_answers`` best-scored answers (a few integers per question);
2. :func:`assemble_threads` reads the file again and keeps the text of the chosen posts only,
   emitting a thread as soon as its last chosen post has been read (answers follow their
   question by Id, so few threads are open at any time).

A row that cannot be used (a missing Id, a non-number score, an answer without a parent) is
reported through ``on_error`` and skipped. Attribution follows the licence terms: the post's
URL, its authors (``OwnerDisplayName`` or the ``Users.xml`` name of ``OwnerUserId``) and the
CC BY-SA version in force on the post's creation date.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

# CC BY-SA version by contribution date (Stack Exchange's published terms).
LICENSE_CHANGES = (("2011-04-08", "CC-BY-SA-2.5"), ("2018-05-02", "CC-BY-SA-3.0"))
LATEST_LICENSE = "CC-BY-SA-4.0"
OnError = Callable[[str, str], None]  # (row description, message)


def license_for(created: str | None) -> str:
    """The CC BY-SA version that covers a post created at ``created`` (ISO 8601)."""
    for change_date, before in LICENSE_CHANGES:
        if created and created[:10] < change_date:
            return before
    return LATEST_LICENSE


@dataclass(frozen=True)
class QaFilters:
    min_score: int = 0  # questions (and answers) scoring less are left out
    accepted_only: bool = False  # only questions with an accepted answer
    tags: tuple[str, ...] = ()  # keep questions with at least one of these tags (empty: all)
    top_answers: int = 3  # best-scored answers kept besides the accepted one


@dataclass
class Post:
    post_id: int
    score: int
    body: str
    created: str | None
    author: str | None


@dataclass
class Thread:
    question_id: int
    title: str
    tags: list[str]
    question: Post
    accepted: Post | None = None
    answers: list[Post] = field(default_factory=list)  # by score, best first, accepted excluded
    site: str = ""  # the dump's site (stackoverflow.com): the threads' URLs

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Thread:
        data = json.loads(text)
        data["question"] = Post(**data["question"])
        data["accepted"] = Post(**data["accepted"]) if data.get("accepted") else None
        data["answers"] = [Post(**answer) for answer in data.get("answers", [])]
        return cls(**data)


def iter_rows(stream) -> Iterator[dict[str, str]]:
    """The attributes of each ``<row>`` of a dump file (a binary stream), one at a time."""
    import xml.etree.ElementTree as ET

    for _event, element in ET.iterparse(stream, events=("end",)):
        if element.tag == "row":
            yield dict(element.attrib)
        element.clear()


def split_tags(text: str | None) -> list[str]:
    """``<python><list>`` (older dumps) or ``|python|list|`` (newer ones) → ["python", "list"]."""
    text = (text or "").strip()
    if text.startswith("|"):
        return [t for t in text.split("|") if t]
    return [t for t in text.replace(">", "").split("<") if t]


def _number(row: dict[str, str], name: str, default: int | None = None) -> int | None:
    value = row.get(name)
    return default if value in (None, "") else int(value)


def _keeps_question(row: dict[str, str], filters: QaFilters) -> bool:
    if (_number(row, "Score", 0) or 0) < filters.min_score:
        return False
    if filters.accepted_only and not row.get("AcceptedAnswerId"):
        return False
    return not filters.tags or bool(set(split_tags(row.get("Tags"))) & set(filters.tags))


def choose_answers(rows: Iterable[dict[str, str]], filters: QaFilters, on_error: OnError) -> dict[int, set[int]]:
    """Pass 1: question id → ids of the posts its thread needs (itself, accepted, top answers)."""
    accepted: dict[int, int | None] = {}
    best: dict[int, list[tuple[int, int]]] = {}  # question → min-heap of (score, -answer id)
    for row in rows:
        try:
            post_id, kind = _number(row, "Id"), row.get("PostTypeId")
            if kind == "1" and _keeps_question(row, filters):
                accepted[post_id] = _number(row, "AcceptedAnswerId")
            elif kind == "2":
                parent, score = _number(row, "ParentId"), _number(row, "Score", 0)
                if parent is None:
                    raise ValueError("answer without ParentId")
                if score >= filters.min_score:
                    heap = best.setdefault(parent, [])
                    (heapq.heappush if len(heap) < filters.top_answers else heapq.heappushpop)(heap, (score, -post_id))
        except (TypeError, ValueError) as err:
            on_error(f"row Id={row.get('Id', '?')}", f"{type(err).__name__}: {err}")
    needed = {}
    for question, accepted_id in accepted.items():
        ids = {question, *(-neg for _score, neg in best.get(question, []))}
        needed[question] = ids | ({accepted_id} if accepted_id else set())
    return needed


def _post(row: dict[str, str], users: dict[str, str]) -> Post:
    author = row.get("OwnerDisplayName") or users.get(row.get("OwnerUserId") or "")
    return Post(int(row["Id"]), _number(row, "Score", 0) or 0, row.get("Body") or "", row.get("CreationDate"), author)


def assemble_threads(rows: Iterable[dict[str, str]], needed: dict[int, set[int]],
                     users: dict[str, str]) -> Iterator[Thread]:
    """Pass 2: threads of the questions in ``needed``, each emitted once its last post is read."""
    owner = {post: question for question, ids in needed.items() for post in ids}
    open_threads: dict[int, dict] = {}
    for row in rows:
        try:
            post_id = int(row.get("Id", ""))
        except ValueError:
            continue  # reported by pass 1
        question = owner.get(post_id)
        if question is None:
            continue
        parts = open_threads.setdefault(question, {"posts": {}, "row": None})
        parts["posts"][post_id] = _post(row, users)
        if post_id == question:
            parts["row"] = row
        if parts["row"] is not None and len(parts["posts"]) == len(needed[question]):
            yield _thread(open_threads.pop(question))
    for parts in open_threads.values():  # answers the dump lacks: the thread goes out with what it has
        if parts["row"] is not None:
            yield _thread(parts)


def _thread(parts: dict) -> Thread:
    row, posts = parts["row"], parts["posts"]
    question_id = int(row["Id"])
    accepted_id = _number(row, "AcceptedAnswerId")
    answers = sorted((p for pid, p in posts.items() if pid not in (question_id, accepted_id)),
                     key=lambda p: (-p.score, p.post_id))
    return Thread(question_id, row.get("Title") or "", split_tags(row.get("Tags")), posts[question_id],
                  posts.get(accepted_id) if accepted_id else None, answers)
