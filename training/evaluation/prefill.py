"""A generation batch whose prompts are prefilled one by one, then decoded together.

Prompts of different lengths left-padded into one forward pass compute every padding
position of every layer, and the padding mask keeps attention off its causal fast path. On
the demo's eight longest FIM line-completion prompts (5,666 tokens, 7,320 with padding) the
padded prefill took 10.6–14.4 s on 2 CPU threads and the same prompts one at a time
7.7–8.5 s (four alternating pairs, SmolLM2-135M, float32).

So each prompt except its last token runs alone (:func:`prefill`, with which ``codemill
serve``'s engine also admits requests), the per-prompt caches are left-padded with zeros into
one batch cache, and ``generate`` goes on from there: it computes each row's last prompt token and decodes the rows together, as it
did before. The attention mask hides the padding columns and positions follow the mask, so
a row sees exactly its own tokens at its own positions; greedy continuations matched the
padded batch token for token on those prompts. Models whose cache is not transformers' plain
per-layer ``DynamicCache`` (sliding-window or hybrid layers) keep the padded batch.
"""

from __future__ import annotations

from collections.abc import Sequence


def generate_rows(model, rows: Sequence[Sequence[int]], pad_id: int, copies: int, options: dict):
    """``model.generate`` over token-id ``rows``, each repeated ``copies`` times.

    Returns ``(output ids, width)``: output row ``i * copies + j`` is the ``j``-th sequence of
    ``rows[i]``, its prompt left-padded to ``width`` columns, then the generated tokens.
    ``options`` are generate's keyword arguments; ``num_return_sequences`` is replaced by
    ``copies``.
    """
    import torch

    device = next(model.parameters()).device
    width = max(map(len, rows))
    ids = torch.tensor([[pad_id] * (width - len(row)) + list(row) for row in rows], device=device)
    mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows], device=device)
    options = {**options, "num_return_sequences": 1}
    cache = prefilled_cache(model, rows, width, copies)
    if cache is not None:
        options["cache"] = cache
    output = model.generate(
        input_ids=ids.repeat_interleave(copies, dim=0), attention_mask=mask.repeat_interleave(copies, dim=0), **options
    )
    return output, width


def prefill(model, prompt_ids: Sequence[int], device):
    """Run a prompt alone; returns (last-position logits [vocab], its cache). ``codemill serve`` admits requests so."""
    import torch

    ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)
    # Only the last position's logits are needed (as generate does): the vocabulary projection
    # of every prompt position would cost ~20% of a small model's prefill.
    output = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    return output.logits[0, -1, :].float(), output.cache


def prefilled_cache(model, rows: Sequence[Sequence[int]], width: int, copies: int = 1):
    """The batch cache of every row but its last token, left-padded to ``width - 1`` columns.

    None where a row has a single token (nothing to prefill) or the model's cache has layers
    other than plain ``DynamicLayer``: the caller then generates from the padded batch.
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    if min(map(len, rows)) < 2:
        return None
    device = next(model.parameters()).device
    caches = []
    for row in rows:
        _, cache = prefill(model, row[:-1], device)
        if not all(type(layer) is DynamicLayer for layer in cache.layers):
            return None
        caches.append(cache)
    batch = DynamicCache()
    for index in range(len(caches[0].layers)):
        layers = [cache.layers[index] for cache in caches]
        keys = _left_padded([layer.keys for layer in layers], width - 1, copies)
        values = _left_padded([layer.values for layer in layers], width - 1, copies)
        batch.update(keys, values, index)
    return batch


def _left_padded(tensors, columns: int, copies: int):
    """One-row (1, heads, positions, head_dim) tensors zero-padded on the left to ``columns``
    positions, stacked, each repeated ``copies`` times (consecutive rows)."""
    import torch
    import torch.nn.functional as F

    padded = [F.pad(tensor, (0, 0, columns - tensor.shape[2], 0)) for tensor in tensors]
    return torch.cat(padded).repeat_interleave(copies, dim=0)
