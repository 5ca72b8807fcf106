"""The running batch's key/value cache: sequences of different lengths decoded in one forward.

Each sequence is prefilled alone (batch of one, no padding: its prompt is computed exactly
as bare generation computes it), then its cache joins the batch, left-padded to the batch's
length. Padding columns are masked out by the attention mask and each row keeps its own
position ids, so a row attends to exactly its own tokens at its own positions. Finished or
cancelled rows leave by index; columns that have become padding for every row are cut off.

The cache lives in **preallocated buffers with room to grow** (one pair per layer, shaped
``[rows, heads, capacity, head_dim]``): a decoding step writes its new key/value column in
place and attention reads a view of the used columns. transformers' ``DynamicCache`` instead
concatenates every step (``torch.cat`` of the whole cache, per layer), which at 16 rows and a
few hundred positions copies hundreds of MB per step; here the cache is copied only when a
sequence joins or leaves, or when the buffer is full (then it grows by :data:`GROW_COLUMNS`).

Works with models whose cache is transformers' ``DynamicCache`` of per-layer key/value
tensors shaped ``[batch, heads, length, head_dim]`` (Llama, Qwen2, Mistral, GPT-2 ...).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

GROW_COLUMNS = 128  # free columns added when a buffer fills: one copy per 128 decoding steps


class _BufferLayer(DynamicLayer):
    """One layer's keys and values in buffers that a step writes into in place.

    ``keys``/``values`` (what attention and ``get_seq_length`` read) are views of the used
    columns ``[:, :, :length]``; padding columns hold zeros, never uninitialised memory
    (masked attention weights are 0, and 0 × NaN would still be NaN).
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
        super().__init__()
        self.key_buffer, self.value_buffer, self.length = keys, values, length
        self.device = keys.device
        self.is_initialized = True
        self._view()

    def _view(self) -> None:
        self.keys = self.key_buffer[:, :, : self.length]
        self.values = self.value_buffer[:, :, : self.length]

    @property
    def capacity(self) -> int:
        return int(self.key_buffer.shape[2])

    def reserve(self, columns: int) -> None:
        """Room for ``columns`` more positions (a copy only when the buffer is full)."""
        if self.length + columns <= self.capacity:
            return
        wanted = self.length + max(columns, GROW_COLUMNS)
        self.key_buffer = _placed(self.keys, wanted, 0)
        self.value_buffer = _placed(self.values, wanted, 0)
        self._view()

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        columns = key_states.shape[2]
        self.reserve(columns)
        self.key_buffer[:, :, self.length : self.length + columns].copy_(key_states)
        self.value_buffer[:, :, self.length : self.length + columns].copy_(value_states)
        self.length += columns
        self._view()
        return self.keys, self.values


def _placed(tensor: torch.Tensor, capacity: int, offset: int) -> torch.Tensor:
    """A zero buffer of ``capacity`` columns holding ``tensor`` from column ``offset`` on."""
    buffer = tensor.new_zeros(tensor.shape[0], tensor.shape[1], capacity, tensor.shape[3])
    buffer[:, :, offset : offset + tensor.shape[2]].copy_(tensor)
    return buffer


class KVBatch:
    def __init__(self, device) -> None:
        self.device = device
        self.layers: list[_BufferLayer] = []
        self.mask: torch.Tensor | None = None  # [rows, length], 1 = real token
        self.positions: list[int] = []  # next position id of each row
        self._cache: DynamicCache | None = None

    @property
    def rows(self) -> int:
        return len(self.positions)

    @property
    def length(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    @property
    def keys(self) -> list[torch.Tensor]:
        return [layer.keys for layer in self.layers]

    @property
    def values(self) -> list[torch.Tensor]:
        return [layer.values for layer in self.layers]

    def _use(self, layers: list[_BufferLayer]) -> None:
        self.layers = layers
        cache = DynamicCache()
        cache.layers = list(layers)  # every model layer present: the cache appends none
        self._cache = cache

    def add(self, cache, prompt_length: int, copies: int = 1) -> None:
        """Append ``copies`` rows holding a prefilled sequence's cache (batch of one)."""
        keys = [layer.keys for layer in cache.layers]
        values = [layer.values for layer in cache.layers]
        if copies > 1:
            keys = [k.expand(copies, -1, -1, -1) for k in keys]
            values = [v.expand(copies, -1, -1, -1) for v in values]
        mask = torch.ones(copies, prompt_length, dtype=torch.long, device=self.device)
        if not self.rows:
            capacity = prompt_length + GROW_COLUMNS
            self._use([
                _BufferLayer(_placed(k, capacity, 0), _placed(v, capacity, 0), prompt_length)
                for k, v in zip(keys, values, strict=True)
            ])
            self.mask = mask
        else:
            target = max(self.length, prompt_length)
            grow, pad_new = target - self.length, target - prompt_length
            capacity = target + max(GROW_COLUMNS, self.layers[0].capacity - self.length)
            layers = []
            for old, k, v in zip(self.layers, keys, values, strict=True):
                key_buffer = _placed(old.keys, capacity, grow)
                value_buffer = _placed(old.values, capacity, grow)
                joined_keys = torch.cat([key_buffer, _placed(k, capacity, pad_new)])
                joined_values = torch.cat([value_buffer, _placed(v, capacity, pad_new)])
                layers.append(_BufferLayer(joined_keys, joined_values, target))
            self._use(layers)
            old_mask = torch.cat([self.mask.new_zeros(self.rows, grow), self.mask], dim=1)
            new_mask = torch.cat([mask.new_zeros(copies, pad_new), mask], dim=1)
            self.mask = torch.cat([old_mask, new_mask])
        self.positions.extend([prompt_length] * copies)

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows (in this order); drop columns no remaining row uses."""
        if len(rows) == self.rows:
            return
        if not rows:
            self.layers, self._cache, self.mask, self.positions = [], None, None, []
            return
        index = torch.tensor(rows, dtype=torch.long, device=self.device)
        mask = self.mask.index_select(0, index)
        used = mask.any(dim=0).nonzero()
        first = int(used[0]) if len(used) else 0
        # The buffers' free columns stay: a view from ``first`` on, written in place as before.
        self._use([
            _BufferLayer(
                layer.key_buffer.index_select(0, index)[:, :, first:],
                layer.value_buffer.index_select(0, index)[:, :, first:],
                layer.length - first,
            )
            for layer in self.layers
        ])
        self.mask = mask[:, first:]
        self.positions = [self.positions[row] for row in rows]

    def step(self, model, last_tokens: list[int]) -> torch.Tensor:
        """One decoding step for every row: feed each row's last token; returns [rows, vocab] logits."""
        ids = torch.tensor(last_tokens, dtype=torch.long, device=self.device).unsqueeze(1)
        mask = torch.cat([self.mask, self.mask.new_ones(self.rows, 1)], dim=1)
        positions = torch.tensor(self.positions, dtype=torch.long, device=self.device).unsqueeze(1)
        output = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=self._cache, use_cache=True)
        self.mask = mask
        self.positions = [position + 1 for position in self.positions]
        return output.logits[:, -1, :].float()

