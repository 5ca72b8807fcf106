"""Fill-in-the-middle (FIM) transformation of one tokenised document, StarCoder-style.

With probability ``rate`` a document is cut at two random points into prefix, middle and
suffix and rearranged so the model learns to write the middle from both sides:

* PSM: ``<fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle``
* SPM: ``<fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle`` (the FIM paper's
  "SPM, variant 2" that StarCoder trains on: the prefix is glued to the middle so that a
  single left-to-right completion serves both orders)

The cut is made on token ids, not characters: the result is then an exact permutation of
the document's tokens plus three sentinels, which the packing tests rely on, and the
tokeniser runs once per document instead of three times.

The random draw comes from a generator seeded by ``(seed, document key)``, so a document
gets the same transformation whichever batch or worker it lands in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FIM_PREFIX = "<fim_prefix>"
FIM_MIDDLE = "<fim_middle>"
FIM_SUFFIX = "<fim_suffix>"
FIM_PAD = "<fim_pad>"
FIM_TOKENS = (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD)


@dataclass(frozen=True)
class FimTokenIds:
    prefix: int
    middle: int
    suffix: int

    @classmethod
    def from_tokenizer(cls, tokenizer) -> FimTokenIds:
        ids = [tokenizer.convert_tokens_to_ids(token) for token in (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX)]
        unknown = getattr(tokenizer, "unk_token_id", None)
        if any(i is None or (unknown is not None and i == unknown) for i in ids):
            raise ValueError("tokenizer lacks FIM tokens; load it through training.model, which adds them")
        return cls(*ids)


def document_rng(seed: int, key: str) -> np.random.Generator:
    """A generator that depends only on the seed and the document, not on batch order."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def apply_fim(
    tokens: Sequence[int],
    fim: FimTokenIds,
    rng: np.random.Generator,
    rate: float = 0.5,
    spm_rate: float = 0.5,
) -> list[int]:
    """Return ``tokens`` unchanged (with probability 1 - rate) or in PSM/SPM order."""
    tokens = list(tokens)
    if len(tokens) < 2 or rng.random() >= rate:
        return tokens
    # Two cut points, sorted; equal points give an empty middle, as in StarCoder.
    low, high = sorted(int(x) for x in rng.integers(0, len(tokens) + 1, size=2))
    prefix, middle, suffix = tokens[:low], tokens[low:high], tokens[high:]
    if rng.random() < spm_rate:
        return [fim.prefix, fim.suffix, *suffix, fim.middle, *prefix, *middle]
    return [fim.prefix, *prefix, fim.suffix, *suffix, fim.middle, *middle]


def undo_fim(tokens: Sequence[int], fim: FimTokenIds) -> list[int]:
    """Restore the original order of a (possibly) FIM-transformed document; for tests and debugging."""
    tokens = list(tokens)
    if not tokens or tokens[0] != fim.prefix:
        return tokens
    middle_at = tokens.index(fim.middle)
    if tokens[1] == fim.suffix:  # SPM: suffix, then prefix+middle after <fim_middle>
        suffix = tokens[2:middle_at]
        return [*tokens[middle_at + 1 :], *suffix]
    suffix_at = tokens.index(fim.suffix)
    prefix, suffix, middle = tokens[1:suffix_at], tokens[suffix_at + 1 : middle_at], tokens[middle_at + 1 :]
    return [*prefix, *middle, *suffix]


def fim_lineage(rate: float, spm_rate: float) -> dict:
    """The FIM settings a run records in its lineage (read back by training.prompting.FimFormat)."""
    return {
        "rate": rate,
        "spm_rate": spm_rate,
        "spm_variant": "prefix glued to middle (StarCoder SPM)",
        "tokens": {"prefix": FIM_PREFIX, "middle": FIM_MIDDLE, "suffix": FIM_SUFFIX, "pad": FIM_PAD},
    }
