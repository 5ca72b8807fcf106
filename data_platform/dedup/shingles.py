"""Code tokens, dedup words and their k-token shingles, hashed to 32 bits without a per-token loop.

Two tokenisations share the machinery:

* code tokens (``token_hashes``, ``count_code_tokens``: decontamination n-grams, gold token
  counts): a maximal run of word characters (letters, digits, ``_``, any non-ASCII
  character) or a single ASCII punctuation character;
* dedup words (``word_hashes``, ``shingle_hashes``: near-dedup shingles): BigCode's tokens,
  the runs of word characters only, with ASCII letters case-folded. Punctuation tokens make
  5-grams span fewer words, which inflated the similarity of punctuation-dense files (data
  tables, mappings) well above what their words say; case-folding keeps
  ``List[int]``/``list[int]`` modernisations near-duplicates (docs/decisions/0116).

Whitespace only separates tokens, so reformatting never changes a file's shingles. Everything runs on the UTF-8 bytes as numpy
arrays: a byte-class lookup finds token boundaries, a prefix sum of ``byte * P^i`` gives
every token's polynomial hash in O(1) (``(S[end] - S[start]) * P^-start``, all mod 2^64), and
shingles combine k consecutive token hashes with vectorised multiply-add and one final mix.
"""

from __future__ import annotations

import numpy as np

_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_STEP = np.uint64(0x9E3779B97F4A7C15)
_BASE = 0x100000001B3  # odd, so it has an inverse modulo 2^64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)


def _byte_classes() -> np.ndarray:
    classes = np.zeros(256, dtype=np.uint8)  # 0: whitespace/control, 1: word, 2: punctuation
    for code in range(256):
        char = chr(code)
        if code >= 0x80 or char.isalnum() or char == "_":
            classes[code] = 1
        elif 33 <= code < 127:
            classes[code] = 2
    return classes


_CLASSES = _byte_classes()


def token_spans(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(utf-8 bytes, token start offsets, token end offsets)."""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if not len(data):
        empty = np.zeros(0, dtype=np.int64)
        return data, empty, empty
    classes = _CLASSES[data]
    word = classes == 1
    punct = classes == 2
    before = np.zeros_like(word)
    before[1:] = word[:-1]
    after = np.zeros_like(word)
    after[:-1] = word[1:]
    starts = np.flatnonzero((word & ~before) | punct)
    ends = np.flatnonzero((word & ~after) | punct) + 1
    return data, starts, ends


def code_tokens(text: str) -> list[str]:
    data, starts, ends = token_spans(text)
    raw = data.tobytes()
    return [raw[s:e].decode("utf-8", "replace") for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def count_code_tokens(text: str) -> int:
    return len(token_spans(text)[1])


def _fmix64(values: np.ndarray) -> np.ndarray:
    values = values ^ (values >> np.uint64(33))
    values = values * _MIX_1
    values = values ^ (values >> np.uint64(33))
    values = values * _MIX_2
    return values ^ (values >> np.uint64(33))


def _powers(base: int, count: int) -> np.ndarray:
    values = np.full(count, base, dtype=np.uint64)
    values[0] = 1
    return np.cumprod(values)  # wraps mod 2^64, which is the arithmetic wanted


_UPPER = np.zeros(256, dtype=np.uint8)
_UPPER[ord("A") : ord("Z") + 1] = 32


def word_spans(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(case-folded utf-8 bytes, word start offsets, word end offsets): word runs only."""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if not len(data):
        empty = np.zeros(0, dtype=np.int64)
        return data, empty, empty
    word = _CLASSES[data] == 1
    before = np.zeros_like(word)
    before[1:] = word[:-1]
    after = np.zeros_like(word)
    after[:-1] = word[1:]
    folded = data + _UPPER[data]  # ASCII A-Z to a-z; UTF-8 continuation bytes are >= 0x80
    return folded, np.flatnonzero(word & ~before), np.flatnonzero(word & ~after) + 1


def token_hashes(text: str) -> np.ndarray:
    """A deterministic 64-bit hash per code token of ``text`` (independent of PYTHONHASHSEED)."""
    return _span_hashes(*token_spans(text))


def word_hashes(text: str) -> np.ndarray:
    """A deterministic 64-bit hash per dedup word (case-folded word run) of ``text``."""
    return _span_hashes(*word_spans(text))


def _span_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    if not len(starts):
        return np.zeros(0, dtype=np.uint64)
    size = len(data)
    with np.errstate(over="ignore"):
        powers = _powers(_BASE, size + 1)
        prefix = np.zeros(size + 1, dtype=np.uint64)
        np.cumsum(data.astype(np.uint64) * powers[:size], out=prefix[1:])
        inverse = _powers(_BASE_INVERSE, size + 1)
        raw = (prefix[ends] - prefix[starts]) * inverse[starts]
        raw += (ends - starts).astype(np.uint64) * _STEP
        return _fmix64(raw)


def shingle_hashes_from_tokens(hashes: np.ndarray, k: int) -> np.ndarray:
    """Unique 32-bit hashes of every k consecutive tokens (one shingle when fewer tokens)."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.uint32)
    span = min(k, n)
    count = n - span + 1
    with np.errstate(over="ignore"):
        # Token hashes are already avalanched: an order-sensitive polynomial over them and
        # one final mix give well-spread shingle hashes at a few vector ops per token.
        combined = hashes[:count].copy()
        for offset in range(1, span):
            combined = combined * _STEP + hashes[offset : offset + count]
        combined = _fmix64(combined)
    return np.unique((combined >> np.uint64(32)).astype(np.uint32))


def shingle_hashes(text: str, k: int = 5) -> np.ndarray:
    """The near-dedup shingle set of ``text``: sorted unique 32-bit hashes of its k-word shingles."""
    return shingle_hashes_from_tokens(word_hashes(text), k)
