"""LSP answers built from a completion: inline completion items and plain completion items."""

from __future__ import annotations

from lsprotocol import types

from serving.lsp.events import ACCEPT_COMMAND
from serving.lsp.positions import position_at, word_start

LABEL_CHARS = 80


def _position(text: str, offset: int, encoding: str) -> types.Position:
    line, character = position_at(text, offset, encoding)
    return types.Position(line=line, character=character)


def accept_command(completion_id: str, accepted_chars: int) -> types.Command:
    """What the editor runs when the item is accepted: reports ``accepted`` (serving.lsp.events)."""
    return types.Command(title="codemill: accepted", command=ACCEPT_COMMAND,
                         arguments=[{"completion_id": completion_id, "accepted_chars": accepted_chars}])


def inline_items(text: str, offset: int, insert: str, encoding: str,
                 command: types.Command | None = None) -> types.InlineCompletionList:
    """Ghost text at the cursor (``textDocument/inlineCompletion``, LSP 3.18)."""
    if not insert:
        return types.InlineCompletionList(items=[])
    cursor = _position(text, offset, encoding)
    item = types.InlineCompletionItem(insert_text=insert, range=types.Range(start=cursor, end=cursor), command=command)
    return types.InlineCompletionList(items=[item])


def completion_label(word: str, insert: str) -> str:
    """The word being typed plus the completion's first line with content, cut to fit a menu."""
    lines = [line for line in insert.split("\n") if line.strip()]
    label = (word + (lines[0] if lines else insert)).strip() or "…"
    if len(lines) > 1:
        label += " …"
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def completion_items(text: str, offset: int, insert: str, language: str, encoding: str,
                     command: types.Command | None = None) -> types.CompletionList:
    """One ``textDocument/completion`` item carrying the same text as the inline item.

    Completion menus filter items by the word before the cursor, so the item replaces that
    word (``newText`` = word + completion) instead of only inserting after it. The list is
    marked incomplete: the next keystroke must ask again, the answer depends on every character.
    """
    if not insert:
        return types.CompletionList(is_incomplete=True, items=[])
    start = word_start(text, offset)
    word = text[start:offset]
    edit_range = types.Range(start=_position(text, start, encoding), end=_position(text, offset, encoding))
    fence = "`" * max(3, _longest_backtick_run(insert) + 1)
    item = types.CompletionItem(
        label=completion_label(word, insert),
        kind=types.CompletionItemKind.Text,
        detail="codemill",
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                          value=f"{fence}{language}\n{word}{insert}\n{fence}"),
        filter_text=word + insert,
        sort_text="0",
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=edit_range, new_text=word + insert),
        command=command,
    )
    return types.CompletionList(is_incomplete=True, items=[item])


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest
