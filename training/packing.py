"""Packing tokenised documents into fixed-length training blocks.

Documents are joined end to end with an EOS token after each one and the stream is cut
every ``seq_len`` tokens, so no compute is spent on padding and a document longer than a
block simply continues in the next one. The packer keeps the unfinished tail between calls:
fed document by document (or batch by batch) it yields exactly the blocks it would yield
for the whole stream at once. ``flush`` pads the last partial block (labels -100 on the
padding) so that not a single token is lost at the end of a finite stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

IGNORE_INDEX = -100  # label value that torch's cross-entropy skips


@dataclass
class Block:
    input_ids: np.ndarray  # int64 [seq_len]
    labels: np.ndarray  # int64 [seq_len]; IGNORE_INDEX on padding


@dataclass
class Packer:
    seq_len: int
    eos_id: int
    pad_id: int | None = None
    _tail: list[np.ndarray] = field(default_factory=list, repr=False)
    _tail_len: int = 0

    def __post_init__(self) -> None:
        if self.seq_len < 2:
            raise ValueError("seq_len must be at least 2")

    @property
    def pending_tokens(self) -> int:
        """Tokens held back until enough arrive to fill a block."""
        return self._tail_len

    def add(self, tokens: Sequence[int]) -> Iterator[Block]:
        """Append one document (plus EOS) and yield every block that became full."""
        piece = np.asarray(list(tokens) + [self.eos_id], dtype=np.int64)
        self._tail.append(piece)
        self._tail_len += len(piece)
        if self._tail_len < self.seq_len:
            return
        stream = np.concatenate(self._tail)
        full = len(stream) // self.seq_len * self.seq_len
        for start in range(0, full, self.seq_len):
            block = stream[start : start + self.seq_len].copy()
            yield Block(block, block.copy())
        rest = stream[full:]
        self._tail = [rest] if len(rest) else []
        self._tail_len = len(rest)

    def flush(self) -> Iterator[Block]:
        """Yield the unfinished tail as one padded block (nothing if the tail is empty)."""
        if not self._tail_len:
            return
        stream = np.concatenate(self._tail)
        pad = self.eos_id if self.pad_id is None else self.pad_id
        input_ids = np.full(self.seq_len, pad, dtype=np.int64)
        labels = np.full(self.seq_len, IGNORE_INDEX, dtype=np.int64)
        input_ids[: len(stream)] = stream
        labels[: len(stream)] = stream
        self._tail, self._tail_len = [], 0
        yield Block(input_ids, labels)


def pack_documents(
    documents: Iterable[Sequence[int]], seq_len: int, eos_id: int, flush: bool = True
) -> list[Block]:
    """Pack a finite list of documents at once (the streaming packer, drained)."""
    packer = Packer(seq_len, eos_id)
    blocks = [block for tokens in documents for block in packer.add(tokens)]
    if flush:
        blocks.extend(packer.flush())
    return blocks


def unpack_tokens(blocks: Iterable[Block]) -> list[int]:
    """The token stream the blocks carry, padding removed; inverse of packing for tests."""
    tokens: list[int] = []
    for block in blocks:
        keep = block.labels != IGNORE_INDEX
        tokens.extend(int(t) for t in block.input_ids[keep])
    return tokens


def real_tokens(blocks: Iterable[Block]) -> int:
    """Tokens the blocks carry that are not padding (labels other than ``IGNORE_INDEX``)."""
    return int(sum((block.labels != IGNORE_INDEX).sum() for block in blocks))
