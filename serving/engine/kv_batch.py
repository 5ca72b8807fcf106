"""The running batch's key/value cache: sequences of different lengths decoded in one forward.

Each sequence is prefilled alone (batch of one, no padding: its prompt is computed exactly
as bare generation computes it), then its cache joins the batch, left-padded to the batch's
length. Padding columns are masked out by the attention mask and each row keeps its own
position ids, so a row attends to exactly its own tokens at its own positions. Finished or
cancelled rows leave by index; columns that have become padding for every row are cut off.

Works with models whose cache is transformers' ``DynamicCache`` of per-layer key/value
tensors shaped ``[batch, heads, length, head_dim]`` (Llama, Qwen2, Mistral, GPT-2 ...).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


def _left_pad(tensor: torch.Tensor, columns: int) -> torch.Tensor:
    if columns <= 0:
        return tensor
    pad = tensor.new_zeros(*tensor.shape[:2], columns, *tensor.shape[3:])
    return torch.cat([pad, tensor], dim=2)


class KVBatch:
    def __init__(self, device) -> None:
        self.device = device
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.mask: torch.Tensor | None = None  # [rows, length], 1 = real token
        self.positions: list[int] = []  # next position id of each row

    @property
    def rows(self) -> int:
        return len(self.positions)

    @property
    def length(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    def add(self, cache, prompt_length: int, copies: int = 1) -> None:
        """Append ``copies`` rows holding a prefilled sequence's cache (batch of one)."""
        keys = [layer.keys for layer in cache.layers]
        values = [layer.values for layer in cache.layers]
        if copies > 1:
            keys = [k.expand(copies, -1, -1, -1) for k in keys]
            values = [v.expand(copies, -1, -1, -1) for v in values]
        mask = torch.ones(copies, prompt_length, dtype=torch.long, device=self.device)
        if not self.rows:
            self.keys, self.values, self.mask = [k.contiguous() for k in keys], [v.contiguous() for v in values], mask
        else:
            target = max(self.length, prompt_length)
            grow, pad_new = target - self.length, target - prompt_length
            self.keys = [torch.cat([_left_pad(a, grow), _left_pad(b, pad_new)]) for a, b in zip(self.keys, keys, strict=True)]
            self.values = [
                torch.cat([_left_pad(a, grow), _left_pad(b, pad_new)]) for a, b in zip(self.values, values, strict=True)
            ]
            old_mask = torch.cat([self.mask.new_zeros(self.rows, grow), self.mask], dim=1)
            new_mask = torch.cat([mask.new_zeros(copies, pad_new), mask], dim=1)
            self.mask = torch.cat([old_mask, new_mask])
        self.positions.extend([prompt_length] * copies)

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows (in this order); drop columns no remaining row uses."""
        if len(rows) == self.rows:
            return
        if not rows:
            self.keys, self.values, self.mask, self.positions = [], [], None, []
            return
        index = torch.tensor(rows, dtype=torch.long, device=self.device)
        self.keys = [k.index_select(0, index) for k in self.keys]
        self.values = [v.index_select(0, index) for v in self.values]
        self.mask = self.mask.index_select(0, index)
        self.positions = [self.positions[row] for row in rows]
        used = self.mask.any(dim=0).nonzero()
        first = int(used[0]) if len(used) else 0
        if first:
            self.keys = [k[:, :, first:] for k in self.keys]
            self.values = [v[:, :, first:] for v in self.values]
            self.mask = self.mask[:, first:]

    def step(self, model, last_tokens: list[int]) -> torch.Tensor:
        """One decoding step for every row: feed each row's last token; returns [rows, vocab] logits."""
        ids = torch.tensor(last_tokens, dtype=torch.long, device=self.device).unsqueeze(1)
        mask = torch.cat([self.mask, self.mask.new_ones(self.rows, 1)], dim=1)
        positions = torch.tensor(self.positions, dtype=torch.long, device=self.device).unsqueeze(1)
        cache = DynamicCache(list(zip(self.keys, self.values, strict=True)))
        output = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
        self.keys = [layer.keys for layer in output.cache.layers]
        self.values = [layer.values for layer in output.cache.layers]
        self.mask = mask
        self.positions = [position + 1 for position in self.positions]
        return output.logits[:, -1, :].float()


def prefill(model, prompt_ids: list[int], device):
    """Run a prompt alone; returns (last-position logits [vocab], its cache)."""
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    # Only the last position's logits are needed (as generate does): the vocabulary projection
    # of every prompt position would cost ~20% of a small model's prefill.
    output = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    return output.logits[0, -1, :].float(), output.cache
