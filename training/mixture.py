"""`train.mixture`: sample documents of each kind (code, notebook, docs, qa) at configured token shares.

Gold holds whatever each kind happens to produce (a repository yields far more tokens than
its documentation). A mixture such as ``{code: 0.8, docs: 0.1, qa: 0.1}`` asks for those shares
of the training tokens. The epoch keeps its size (the split's gold tokens) and each kind gets
``share × total`` tokens: a kind with fewer tokens than that is repeated, one with more is
subsampled. Per document the decision is a rate: ``rate = share × total / kind_tokens``;
the document goes into the stream ``floor(rate)`` times, plus once more with probability
``rate - floor(rate)``, decided by a hash of (seed, doc_id) so the stream is the same for the
same table version and seed (and resume stays exact). Kinds the mixture leaves out are dropped.

Shares are by gold ``token_count`` (the gold tokenizer), which the training tokenizer follows
closely enough for a mixture; the realised shares (:func:`realised_shares`) are computed on the
driver with the same function the stream uses and recorded with the run.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import pyarrow as pa

KINDS = ("code", "notebook", "docs", "qa")
DEFAULT_KIND = "code"  # gold versions written before source_kind existed hold code and notebooks as code


def mixture_rates(kind_tokens: dict[str, int], shares: dict[str, float]) -> dict[str, float]:
    """Copies per document of each kind (fractional) that give ``shares`` of the tokens."""
    total = sum(kind_tokens.values())
    missing = [kind for kind, share in shares.items() if share > 0 and not kind_tokens.get(kind)]
    if missing:
        raise ValueError(f"train.mixture asks for {', '.join(sorted(missing))} but this gold version has no "
                         f"train tokens of that kind (it has: {', '.join(sorted(kind_tokens)) or 'none'})")
    return {kind: share * total / kind_tokens[kind] for kind, share in shares.items() if share > 0}


def _unit(seed: int, doc_id: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / float(1 << 64)


def copies(doc_id: str, rate: float, seed: int) -> int:
    """How many times a document goes into the epoch (0 when subsampled out)."""
    whole = math.floor(rate)
    return whole + (1 if _unit(seed, doc_id) < rate - whole else 0)


def realised_shares(rows: Iterable[tuple[str, str | None, int]], rates: dict[str, float], seed: int) -> dict:
    """Token shares of the sampled epoch over (doc_id, source_kind, token_count) rows, and its tokens."""
    tokens: dict[str, int] = dict.fromkeys(rates, 0)
    for doc_id, kind, count in rows:
        kind = kind or DEFAULT_KIND
        if kind in rates:
            tokens[kind] += copies(doc_id, rates[kind], seed) * int(count or 0)
    total = sum(tokens.values())
    return {"tokens": total, "shares": {kind: (n / total if total else 0.0) for kind, n in tokens.items()}}


def mix_batch(batch: pa.Table, rates: dict[str, float], seed: int) -> pa.Table:
    """Ray Data map_batches function: (doc_id, text, source_kind) rows → the sampled rows (doc_id, text).

    Repeated documents get ids ``doc_id#copy2``, … so fill-in-the-middle draws differ per copy."""
    ids, texts = [], []
    kinds = batch.column("source_kind").to_pylist()
    for doc_id, text, kind in zip(batch.column("doc_id").to_pylist(), batch.column("text").to_pylist(), kinds,
                                  strict=True):
        rate = rates.get(kind or DEFAULT_KIND, 0.0)
        for copy in range(copies(doc_id, rate, seed)):
            ids.append(doc_id if copy == 0 else f"{doc_id}#copy{copy + 1}")
            texts.append(text)
    return pa.table({"doc_id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})


def split_kind_rows(table_path: str, version: int, split: str) -> pa.Table:
    """(doc_id, source_kind, token_count) of one split, read with delta-rs (three narrow columns)."""
    import pyarrow.dataset as pads

    from data_platform.storage import delta_table

    dataset = delta_table(table_path, version=version).to_pyarrow_dataset()
    columns = [c for c in ("doc_id", "source_kind", "token_count") if c in dataset.schema.names]
    table = dataset.to_table(columns=columns, filter=pads.field("split") == split)
    if "source_kind" not in table.column_names:
        table = table.append_column("source_kind", pa.nulls(table.num_rows, pa.string()))
    return table


def plan_mixture(table_path: str, version: int, split: str, shares: dict[str, float], seed: int) -> dict:
    """Rates per kind and the realised shares of one split: what the stream samples and what the run reports."""
    rows = split_kind_rows(table_path, version, split)
    triples = list(zip(rows.column("doc_id").to_pylist(), rows.column("source_kind").to_pylist(),
                       rows.column("token_count").to_pylist(), strict=True))
    kind_tokens: dict[str, int] = {}
    for _doc, kind, count in triples:
        kind_tokens[kind or DEFAULT_KIND] = kind_tokens.get(kind or DEFAULT_KIND, 0) + int(count or 0)
    rates = mixture_rates(kind_tokens, shares)
    realised = realised_shares(triples, rates, seed)
    return {"configured": dict(shares), "gold_tokens": kind_tokens, "rates": rates, **realised}
