"""Held-out loss and perplexity per language on a gold table version's valid/test split.

The split is by repository, so valid/test documents come from repositories the model never
saw in training. The table is streamed from Delta with delta-rs (``DeltaTable(path,
version=V)``), a few thousand rows at a time, and scored in small padded batches; nothing
is materialised beyond one batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ALL_LANGUAGES = "all"


@dataclass(frozen=True)
class HeldoutSettings:
    splits: tuple[str, ...] = ("valid", "test")
    max_documents: int = 256  # per language; 0 = no cap
    max_tokens: int = 512  # tokens scored per document (its beginning)
    batch_size: int = 4


@dataclass
class LanguageLoss:
    """Summed negative log-likelihood over predicted tokens of one language."""

    nll: float = 0.0
    tokens: int = 0
    documents: int = 0

    @property
    def loss(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0)) if self.tokens else float("nan")


@dataclass
class HeldoutResult:
    table_path: str
    table_version: int
    splits: tuple[str, ...]
    languages: dict[str, LanguageLoss] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per language plus ``all``: loss, perplexity, tokens, documents."""
        total = LanguageLoss()
        for one in self.languages.values():
            total.nll += one.nll
            total.tokens += one.tokens
            total.documents += one.documents
        rows = {**dict(sorted(self.languages.items())), ALL_LANGUAGES: total}
        return {
            language: {
                "loss": one.loss,
                "perplexity": one.perplexity,
                "tokens": one.tokens,
                "documents": one.documents,
            }
            for language, one in rows.items()
        }


def stream_documents(
    table_path: str | Path, version: int, splits: Sequence[str], rows_per_batch: int = 2048
) -> Iterator[tuple[str, str]]:
    """(language, text) of the held-out documents of one table version, streamed."""
    import pyarrow.dataset as ds

    from data_platform.storage import delta_table

    dataset = delta_table(str(table_path), version=version).to_pyarrow_dataset()
    scanner = dataset.scanner(
        columns=["language", "text"], filter=ds.field("split").isin(list(splits)), batch_size=rows_per_batch
    )
    for batch in scanner.to_batches():
        yield from zip(batch.column("language").to_pylist(), batch.column("text").to_pylist(), strict=True)


def _capped(documents: Iterator[tuple[str, str]], per_language: int) -> Iterator[tuple[str, str]]:
    seen: dict[str, int] = {}
    for language, text in documents:
        if per_language and seen.get(language, 0) >= per_language:
            continue
        seen[language] = seen.get(language, 0) + 1
        yield language, text


def batch_nll(model, tokenizer, texts: Sequence[str], max_tokens: int) -> list[tuple[float, int]]:
    """(summed NLL, predicted tokens) of each text's first ``max_tokens`` tokens, in one forward pass."""
    import torch
    import torch.nn.functional as F

    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    encoded = tokenizer(
        list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_tokens
    )
    device = next(model.parameters()).device
    input_ids = encoded["input_ids"].to(device)
    mask = encoded["attention_mask"].to(device)
    with torch.inference_mode():
        logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
    # Token t is predicted from tokens < t; padding positions carry no target.
    targets = input_ids[:, 1:]
    valid = mask[:, 1:].bool()
    # Rows of the vocabulary contiguous (not the (batch, vocab, position) view cross_entropy also
    # takes): 0.5 s instead of 1.25 s for a 4x512 batch of SmolLM2's 49k-token logits.
    vocab = logits.shape[-1]
    nll = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), targets.reshape(-1), reduction="none")
    nll = (nll.view(targets.shape) * valid).sum(dim=1)
    return [
        (float(value), int(count))
        for value, count in zip(nll.tolist(), valid.sum(dim=1).tolist(), strict=True)
    ]


def heldout_loss(
    model,
    tokenizer,
    table_path: str | Path,
    version: int,
    settings: HeldoutSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> HeldoutResult:
    """Token-weighted loss and perplexity per language over the held-out splits of ``version``."""
    settings = settings or HeldoutSettings()
    model.eval()
    result = HeldoutResult(str(table_path), version, tuple(settings.splits))
    pending: list[tuple[str, str]] = []
    scored = 0

    def flush() -> None:
        nonlocal scored
        for (language, _), (nll, tokens) in zip(
            pending,
            batch_nll(model, tokenizer, [text for _, text in pending], settings.max_tokens),
            strict=True,
        ):
            bucket = result.languages.setdefault(language, LanguageLoss())
            bucket.nll += nll
            bucket.tokens += tokens
            bucket.documents += 1
        scored += len(pending)
        pending.clear()
        if progress is not None:
            progress(scored)

    documents = stream_documents(table_path, version, settings.splits)
    for language, text in _capped(documents, settings.max_documents):
        if not text:
            continue
        pending.append((language, text))
        if len(pending) >= settings.batch_size:
            flush()
    if pending:
        flush()
    return result
