"""Prompts for a trained model at inference time, built the way training built its inputs.

* :class:`FimFormat` — the sentinel tokens and PSM/SPM order a run was trained with, read
  from its lineage (never guessed from the vocabulary: ``training.model`` adds the FIM
  tokens to every tokenizer, whether or not FIM was trained).
* :func:`fim_prompt_ids` — prefix + suffix → token ids in that format (the order of
  :func:`training.fim.apply_fim`, so the model sees what it learned from).
* :func:`pack_extra_context` — other files (open tabs, imported definitions) as commented
  headers + text ahead of the prefix, within a token budget, nearest first.
* :func:`chat_prompt_ids` — chat messages through the tokenizer's chat template.

Serving and evaluation both call these, so they score and serve the same text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from training.fim import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

FimOrder = Literal["psm", "spm"]

# Line-comment syntax per language, for the header naming each extra-context file.
_COMMENT = {
    "python": "#", "ruby": "#", "bash": "#", "shell": "#", "perl": "#", "r": "#", "yaml": "#",
    "toml": "#", "makefile": "#", "dockerfile": "#", "elixir": "#",
    "sql": "--", "lua": "--", "haskell": "--",
}
_EXTENSION_LANGUAGE = {
    ".py": "python", ".rb": "ruby", ".sh": "bash", ".pl": "perl", ".r": "r", ".yaml": "yaml", ".yml": "yaml",
    ".toml": "toml", ".sql": "sql", ".lua": "lua", ".hs": "haskell", ".ex": "elixir", ".exs": "elixir",
}


_MAX_CHARS_PER_TOKEN = 16


class FimUnavailableError(ValueError):
    """The model was not trained with fill-in-the-middle; the message says why."""


@dataclass(frozen=True)
class FimFormat:
    order: FimOrder
    prefix_token: str = FIM_PREFIX
    middle_token: str = FIM_MIDDLE
    suffix_token: str = FIM_SUFFIX
    source: str = ""  # where the format was learned from, shown in /v1/models

    @classmethod
    def from_lineage(cls, lineage: Mapping[str, Any] | None) -> FimFormat | None:
        """The format a training run used, or None when it trained no FIM (or has no lineage).

        Runs record ``lineage["fim"]`` (rate, SPM share, sentinel tokens); older runs only
        their config, whose ``train.fim_rate`` / ``train.fim_spm_rate`` say the same with
        the sentinels of :mod:`training.fim`.
        """
        if not lineage:
            return None
        fim = lineage.get("fim")
        if fim is None:
            train = ((lineage.get("config") or {}).get("train")) or {}
            if "fim_rate" not in train:
                return None
            fim = {"rate": train["fim_rate"], "spm_rate": train.get("fim_spm_rate", 0.5)}
        if not fim.get("rate"):
            return None
        tokens = fim.get("tokens") or {}
        # Both orders were trained unless spm_rate is 0 or 1; serve the more frequent one
        # (PSM on a tie, as StarCoder-family servers do).
        order: FimOrder = "spm" if float(fim.get("spm_rate", 0.5)) > 0.5 else "psm"
        return cls(
            order=order,
            prefix_token=tokens.get("prefix", FIM_PREFIX),
            middle_token=tokens.get("middle", FIM_MIDDLE),
            suffix_token=tokens.get("suffix", FIM_SUFFIX),
            source=f"training run {lineage.get('run_id', '?')} (fim_rate {fim['rate']}, "
            f"spm_rate {fim.get('spm_rate', 0.5)})",
        )

    def token_ids(self, tokenizer) -> tuple[int, int, int]:
        ids = tuple(tokenizer.convert_tokens_to_ids(token) for token in (
            self.prefix_token, self.middle_token, self.suffix_token
        ))
        unknown = getattr(tokenizer, "unk_token_id", None)
        if any(i is None or (unknown is not None and i == unknown) for i in ids):
            raise FimUnavailableError(f"tokenizer lacks the FIM tokens {self.prefix_token} ...")
        return ids  # type: ignore[return-value]

    def describe(self) -> dict[str, str]:
        return {
            "order": self.order,
            "prefix_token": self.prefix_token,
            "middle_token": self.middle_token,
            "suffix_token": self.suffix_token,
            "source": self.source,
        }


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of raw text, without BOS/EOS: training tokenised documents the same way."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def fim_prompt_ids(tokenizer, fmt: FimFormat, prefix: str, suffix: str) -> list[int]:
    """PSM: ``<pre> prefix <suf> suffix <mid>``; SPM: ``<pre> <suf> suffix <mid> prefix``.

    The model then writes the middle (and, trained on whole documents, an end-of-text).
    """
    pre, mid, suf = fmt.token_ids(tokenizer)
    prefix_ids, suffix_ids = encode(tokenizer, prefix), encode(tokenizer, suffix)
    if fmt.order == "spm":
        return [pre, suf, *suffix_ids, mid, *prefix_ids]
    return [pre, *prefix_ids, suf, *suffix_ids, mid]


def language_of(path: str, language: str | None = None) -> str | None:
    return (language or _EXTENSION_LANGUAGE.get(PurePosixPath(path).suffix.lower()) or None)


def context_header(path: str, language: str | None) -> str:
    comment = _COMMENT.get((language_of(path, language) or "").lower(), "//")
    return f"{comment} {path}\n"


@dataclass(frozen=True)
class PackedContext:
    text: str  # goes before the prefix
    paths: tuple[str, ...]  # files included (nearest last in the text)
    truncated: tuple[str, ...]  # files cut to fit
    tokens: int


def pack_extra_context(
    tokenizer,
    items: Sequence[tuple[str, str]],
    budget_tokens: int,
    language: str | None = None,
) -> PackedContext:
    """Pack ``(path, text)`` items, given nearest first, into at most ``budget_tokens`` tokens.

    Items are taken in order until the budget is spent; the one that does not fit whole is
    cut at a line boundary (its head: imports and signatures come first) and packing stops.
    In the prompt the nearest item comes last, right before the code being completed.
    Tokens are counted on the assembled text (BPE merges across item boundaries).
    """
    text, paths, truncated = "", [], []
    # No code token is this long: the head that can fit, cut before tokenising huge files.
    max_chars = budget_tokens * _MAX_CHARS_PER_TOKEN
    for path, body in items:
        if len(body) > max_chars:
            body = body[: body.rfind("\n", 0, max_chars) + 1 or max_chars]
        header = context_header(path, language)
        block = header + body.rstrip("\n") + "\n\n"
        if len(encode(tokenizer, block + text)) <= budget_tokens:
            text, paths = block + text, [path, *paths]
            continue
        lines = body.rstrip("\n").split("\n")
        fits = _lines_that_fit(tokenizer, header, lines, text, budget_tokens)
        if fits:
            text = header + "\n".join(lines[:fits]) + "\n\n" + text
            paths, truncated = [path, *paths], [path]
        break
    return PackedContext(text, tuple(paths), tuple(truncated), len(encode(tokenizer, text)))


def _lines_that_fit(tokenizer, header: str, lines: list[str], after: str, budget: int) -> int:
    """The most leading lines of a file that, with its header, fit before ``after`` (binary search)."""
    low, high = 0, len(lines)
    while low < high:
        middle = (low + high + 1) // 2
        candidate = header + "\n".join(lines[:middle]) + "\n\n" + after
        if len(encode(tokenizer, candidate)) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def chat_prompt_ids(tokenizer, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """Messages → ids through the tokenizer's chat template (a plain transcript without one)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
    return encode(tokenizer, text)
