"""Choosing each sequence's next token from its logits row: greedy or sampled, OpenAI's knobs.

Greedy rows take the argmax, exactly what ``model.generate(do_sample=False)`` does, so a
served completion at temperature 0 matches bare generation token for token. Sampled rows
draw from their own ``torch.Generator`` (seeded per request and choice), so a seed gives
the same text whatever else shares the batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

from serving.engine.request import SamplingParams


def make_generator(seed: int | None, choice: int, device) -> torch.Generator | None:
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed + choice)
    return generator


def _adjust(row: torch.Tensor, params: SamplingParams, generated: Sequence[int]) -> torch.Tensor | None:
    """logit_bias and presence/frequency penalties (OpenAI's definitions) on one row; None: unchanged."""
    if not (params.logit_bias or params.presence_penalty or params.frequency_penalty):
        return None
    row = row.clone()
    for token, bias in params.logit_bias.items():
        if 0 <= token < row.shape[0]:
            row[token] += bias
    if generated and (params.presence_penalty or params.frequency_penalty):
        counts = Counter(generated)
        ids = torch.tensor(list(counts), device=row.device)
        times = torch.tensor(list(counts.values()), dtype=row.dtype, device=row.device)
        row[ids] -= times * params.frequency_penalty + params.presence_penalty
    return row


def _top_p_sample(row: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    probs = torch.softmax(row / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # Keep the smallest head whose mass reaches top_p (the first token always stays).
        outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= params.top_p
        sorted_probs[outside] = 0.0
        choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))


def next_tokens(
    logits: torch.Tensor,
    params: Sequence[SamplingParams],
    generated: Sequence[Sequence[int]],
    generators: Sequence[torch.Generator | None],
) -> list[int]:
    """One token per row of ``logits`` ([batch, vocab], float32)."""
    greedy = logits.argmax(dim=-1).tolist()
    tokens = []
    for row, (p, done, generator) in enumerate(zip(params, generated, generators, strict=True)):
        adjusted = _adjust(logits[row], p, done)
        if p.greedy:
            tokens.append(greedy[row] if adjusted is None else int(adjusted.argmax()))
        else:
            tokens.append(_top_p_sample(logits[row] if adjusted is None else adjusted, p, generator))
    return tokens
