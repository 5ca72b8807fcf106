"""What an editor inserts, cut from a model's raw continuation: shared by serving and evaluation.

A model keeps writing past the point an editor wants: the rest of the file, the suffix it
was shown, a new function. These rules, applied to the text generated after the cursor,
decide where the completion ends and what of its tail to drop:

* ``stop`` strings (OpenAI semantics: the completion ends before the first occurrence);
* ``mode="line"``: one line of content: the completion ends at the first newline that
  follows a non-blank character of the completion (leading newlines and indentation are
  kept, so a cursor at the end of a line can still get the next line);
* ``mode="block"``: the statement or block the cursor is in, decided by indentation and
  bracket balance (see :func:`_block_end`);
* ``mode="auto"``: ``line`` when the cursor has code after it on its line, ``block`` when the
  cursor's line is blank or opens a block (ends with ``:``, ``{``, ``(``, ``[``...), else ``line``;
* ``mode="none"``: only ``stop`` (plain OpenAI behaviour);
* with a ``suffix``: a generated line that repeats the suffix's first line (same indentation)
  ends the completion before it, and a tail that repeats the start of the suffix's current
  line (``foo)`` before ``)``) is trimmed when that leaves the line better balanced.

:class:`CompletionTracker` applies them incrementally for streaming: it only releases text
that no later token can take back, so the streamed pieces always add up to exactly what the
non-streamed completion would be (the tests check this on every token split).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["none", "line", "block", "auto"]
MODES: tuple[str, ...] = ("none", "line", "block", "auto")

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {")": "(", "]": "[", "}": "{"}
# A line at the header's indentation that continues the same statement rather than ending it.
CONTINUATION = re.compile(r"^(else\b|elif\b|except\b|finally\b|catch\b|case\b|default\b|\}|\)|\])")
BLOCK_OPENER_ENDINGS = (":", "{", "(", "[", "=>", "->", " do", "then")
TAB_WIDTH = 4


def truncate_at_stop(text: str, stops: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop sequence (the stop itself excluded)."""
    cut = min((index for stop in stops if stop and (index := text.find(stop)) >= 0), default=len(text))
    return text[:cut]


@dataclass(frozen=True)
class CompletionContext:
    """Where the cursor is and which rules apply."""

    prefix: str = ""  # text before the cursor (only its last line is read)
    suffix: str = ""  # text after the cursor
    mode: Mode = "none"
    stop: tuple[str, ...] = ()

    @property
    def cursor_line(self) -> str:
        """The part of the cursor's line before the cursor."""
        return self.prefix.rsplit("\n", 1)[-1]

    @property
    def suffix_line(self) -> str:
        """The part of the cursor's line after the cursor."""
        return self.suffix.split("\n", 1)[0]

    @property
    def suffix_first_line(self) -> str | None:
        """The first non-blank line after the cursor's line (right-stripped), if any."""
        for line in self.suffix.split("\n")[1:]:
            if line.strip():
                return line.rstrip()
        return None


def resolve_mode(context: CompletionContext) -> Mode:
    """``auto`` → ``line`` or ``block`` from where the cursor is; other modes unchanged."""
    if context.mode != "auto":
        return context.mode
    if context.suffix_line.strip():
        return "line"  # code after the cursor on its line: finish the line only
    before = context.cursor_line.rstrip()
    if not before.strip() or before.endswith(BLOCK_OPENER_ENDINGS):
        return "block"
    return "line"


def indentation(line: str) -> int:
    expanded = line.expandtabs(TAB_WIDTH)
    return len(expanded) - len(expanded.lstrip())


def bracket_delta(text: str) -> tuple[int, int]:
    """(net depth change, lowest depth reached) over ``text``, skipping strings and comments.

    A rough lexer: quotes ``' " ``` open strings up to the same quote on the same line
    (backslash escapes honoured); ``#`` and ``//`` start a comment to the end of the line.
    Good enough to tell whether a line closes a bracket it did not open.
    """
    depth = lowest = 0
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote or char == "\n":
                quote = None
        elif char in "'\"`":
            quote = char
        elif char == "#" or text.startswith("//", index):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        elif char in OPENERS:
            depth += 1
        elif char in CLOSERS:
            depth -= 1
            lowest = min(lowest, depth)
        index += 1
    return depth, lowest


def _quote_imbalance(text: str) -> int:
    return sum(text.count(quote) % 2 for quote in ("'", '"', "`"))


def _imbalance(line: str) -> int:
    depth, lowest = bracket_delta(line)
    return abs(depth) + abs(lowest) + _quote_imbalance(line)


@dataclass(frozen=True)
class _Line:
    start: int  # offset in the completion text
    end: int  # offset of its newline (or len(text) when incomplete)
    text: str  # the line as the editor sees it (cursor line: prefix part included)
    complete: bool


def _lines(text: str, cursor_line: str) -> list[_Line]:
    lines, start = [], 0
    while True:
        newline = text.find("\n", start)
        end = len(text) if newline < 0 else newline
        shown = (cursor_line if start == 0 else "") + text[start:end]
        lines.append(_Line(start, end, shown, newline >= 0))
        if newline < 0:
            return lines
        start = newline + 1


def _line_end(text: str) -> int | None:
    """Line mode: the first newline after a non-blank character of the completion."""
    seen_content = False
    for index, char in enumerate(text):
        if char == "\n" and seen_content:
            return index
        seen_content = seen_content or not char.isspace()
    return None


def _block_end(text: str, context: CompletionContext, final: bool) -> int | None:
    """Block mode: where the block the cursor is in ends (an offset in ``text``), or None.

    * Cursor after code on its line (a header such as ``def f(x):`` or ``if (a) {``): the
      block is that line plus the lines indented deeper; the first later line at the
      header's indentation or less ends it (excluded), unless it continues the statement
      (``else``, ``except``, a closing bracket). When the header left brackets open, the
      line that closes them all ends the block (included: ``}``).
    * Cursor on a blank line: the block is the run of statements at the indentation of the
      first generated line of code; a line indented less, or one that starts by closing a
      bracket opened before the cursor, ends it (excluded).
    """
    lines = _lines(text, context.cursor_line)
    after_code = bool(context.cursor_line.strip())
    depth = max(0, bracket_delta(context.cursor_line)[0]) if after_code else 0
    header_opened = depth > 0
    base: int | None = indentation(context.cursor_line) if after_code else None
    for number, line in enumerate(lines):
        decided = line.complete or final
        body = line.text[len(context.cursor_line) :] if number == 0 else line.text
        has_code = bool(line.text.strip())
        if number and has_code:
            if not decided and not _line_decidable(line.text):
                return None
            indent = indentation(line.text)
            starts_closing = line.text.lstrip()[0] in CLOSERS
            if after_code and indent <= base and not CONTINUATION.match(line.text.lstrip()):
                return line.start - 1
            if not after_code and base is not None and indent < base:
                return line.start - 1
            if not after_code and starts_closing and depth + bracket_delta(body)[1] < 0:
                return line.start - 1  # closes a bracket opened before the cursor
        if base is None and has_code:
            base = indentation(line.text)
        if not decided:
            return None
        depth += bracket_delta(body)[0]
        header_opened = header_opened or (after_code and number == 0 and depth > 0)
        if after_code and header_opened and number > 0 and depth <= 0:
            return line.end
    return None


def _line_decidable(line: str) -> bool:
    """An incomplete line whose fate is known: it has code and does not start with a closer."""
    stripped = line.lstrip()
    return bool(stripped) and stripped[0] not in CLOSERS and not CONTINUATION.match(stripped)


def _suffix_repeat_end(text: str, context: CompletionContext) -> int | None:
    """The start of the first complete generated line that repeats the suffix's first line."""
    target = context.suffix_first_line
    if target is None:
        return None
    for line in _lines(text, context.cursor_line)[1:]:
        if line.complete and line.text.rstrip() == target:
            return line.start - 1
    return None


def _trim_suffix_overlap(completion: str, context: CompletionContext) -> str:
    """Drop a tail that the suffix's current line already starts with, if that balances the line."""
    tail = context.suffix_line
    if not tail or not completion:
        return completion
    last_line = completion.rsplit("\n", 1)[-1]
    before = context.cursor_line if "\n" not in completion else ""
    for size in range(min(len(tail), len(last_line)), 0, -1):
        if last_line.endswith(tail[:size]):
            kept = _imbalance(before + last_line[:-size] + tail)
            if kept <= _imbalance(before + last_line + tail):
                return completion[:-size]
            return completion
    return completion


def _finish(text: str, mode: Mode, context: CompletionContext) -> str:
    """The completion from a cut text: tidy its end for the editor."""
    if mode in ("line", "block"):
        # Trailing newlines and indentation would move the editor's cursor to nowhere.
        stripped = text.rstrip()
        text = stripped if stripped.strip() else ""
    return _trim_suffix_overlap(text, context)


def completion_end(text: str, context: CompletionContext, final: bool) -> int | None:
    """Offset where the completion ends in ``text`` (or None: not yet known, generation goes on).

    ``final`` says generation has stopped (end of sequence, token limit), so an unfinished
    last line is as complete as it will get.
    """
    mode = resolve_mode(context)
    cuts = [index for stop in context.stop if stop and (index := text.find(stop)) >= 0]
    visible = text[: min(cuts)] if cuts else text
    if mode == "line" and (cut := _line_end(visible)) is not None:
        cuts.append(cut)
    elif mode == "block" and (cut := _block_end(visible, context, final or bool(cuts))) is not None:
        cuts.append(cut)
    if context.suffix and (cut := _suffix_repeat_end(visible, context)) is not None:
        cuts.append(cut)
    if cuts:
        return min(cuts)
    return len(text) if final else None


def finish_completion(text: str, context: CompletionContext) -> str:
    """The completion an editor inserts, from the whole generated text (generation has ended)."""
    end = completion_end(text, context, final=True)
    return _finish(text[:end], resolve_mode(context), context)


def _held_back(text: str, context: CompletionContext, mode: Mode) -> int:
    """How many characters at the end of ``text`` a later token could still cut or trim."""
    hold = 0
    for stop in context.stop:  # a stop string may be arriving
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                hold = max(hold, size)
                break
    if mode in ("line", "block"):
        hold = max(hold, len(text) - len(text.rstrip()))  # trailing whitespace is dropped at the end
    last_start = text.rfind("\n") + 1
    # A line that may be cut away takes its newline with it (the cut is before the newline).
    if mode == "block" and last_start > 0 and not _line_decidable(text[last_start:]):
        hold = max(hold, len(text) - last_start + 1)
    target = context.suffix_first_line if context.suffix else None
    if target is not None and last_start > 0 and target.startswith(text[last_start:].rstrip()):
        hold = max(hold, len(text) - last_start + 1)  # may become a repeat of the suffix's next line
    tail = context.suffix_line
    # The tail repeating the suffix is judged on the text _finish sees (whitespace stripped).
    kept = text.rstrip() if mode in ("line", "block") else text
    for size in range(min(len(tail), len(kept)), 0, -1):
        if kept.endswith(tail[:size]):
            hold = max(hold, len(text) - len(kept) + size)
            break
    # A decoder may end mid-character (U+FFFD) until the next byte-level token arrives.
    if text.endswith("\ufffd"):
        hold = max(hold, len(text) - len(text.rstrip("\ufffd")))
    if mode in ("line", "block"):
        # A cut at the held point also drops the whitespace before it (the end is stripped).
        start = len(text) - hold
        while start > 0 and text[start - 1].isspace():
            start -= 1
        hold = len(text) - start
    return hold


@dataclass
class CompletionTracker:
    """Applies the rules to a growing text; releases only what can no longer change."""

    context: CompletionContext
    released: int = 0
    done: bool = False
    completion: str | None = None
    _mode: Mode = field(init=False)

    def __post_init__(self) -> None:
        self._mode = resolve_mode(self.context)

    @property
    def mode(self) -> Mode:
        return self._mode

    def update(self, text: str, final: bool = False) -> str:
        """Feed the whole generated text so far; returns the newly released piece.

        After it returns with ``done`` set, the caller stops generating: ``completion`` is
        the final text and everything released adds up to it.
        """
        if self.done:
            return ""
        end = completion_end(text, self.context, final)
        if end is not None:
            self.done = True
            self.completion = _finish(text[:end], self._mode, self.context)
            piece = self.completion[self.released :]
            self.released = len(self.completion)
            return piece
        safe = len(text) - _held_back(text, self.context, self._mode)
        if safe <= self.released:
            return ""
        piece = text[self.released : safe]
        self.released = safe
        return piece
