"""gold.training_corpus: kept silver files with a repository-level split and token counts.

The split comes from a salted hash of repo_id, so every file of a repository lands in the
same split on every run and engine (the same hash is written as Spark SQL and as Python).
Token counts use the configured tokenizer, loaded offline on each executor.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from data_platform.dedup.shingles import count_code_tokens
from data_platform.settings.refine import GoldSettings

_HASH_SPACE = float(1 << 32)


def repo_fraction(repo_id: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by the repository id and the salt."""
    digest = hashlib.sha256(f"{salt}:{repo_id}".encode()).hexdigest()
    return int(digest[:8], 16) / _HASH_SPACE


def _boundaries(ratios: dict[str, float]) -> list[tuple[str, float]]:
    bounds, total = [], 0.0
    for name, ratio in ratios.items():
        total += ratio
        bounds.append((name, total))
    return bounds


def split_for_repo(repo_id: str, settings: GoldSettings) -> str:
    fraction = repo_fraction(repo_id, settings.split_salt)
    bounds = _boundaries(settings.split_ratios)
    for name, upper in bounds[:-1]:
        if fraction < upper:
            return name
    return bounds[-1][0]


def split_column(settings: GoldSettings, repo_id_col: str = "repo_id"):
    """The Spark column computing :func:`split_for_repo`."""
    from pyspark.sql import functions as F

    key = F.concat(F.lit(f"{settings.split_salt}:"), F.col(repo_id_col))
    fraction = F.conv(F.substring(F.sha2(key, 256), 1, 8), 16, 10).cast("double") / F.lit(_HASH_SPACE)
    bounds = _boundaries(settings.split_ratios)
    expression = F.lit(bounds[-1][0])
    for name, upper in reversed(bounds[:-1]):
        expression = F.when(fraction < F.lit(upper), F.lit(name)).otherwise(expression)
    return expression


# --------------------------------------------------------------------------- token counts


@lru_cache(maxsize=4)
def _load_counter(spec: str):
    if spec == "code-tokens":
        return lambda texts: [count_code_tokens(t) for t in texts]
    path = Path(spec).expanduser()
    if path.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        return lambda texts: [
            len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ]
    if path.is_dir():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        return lambda texts: [
            len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        ]
    raise ValueError(
        f"gold.tokenizer: {spec!r} is not 'code-tokens', a tokenizer.json file or a local model directory"
    )


def count_tokens(texts: list[str], spec: str = "code-tokens") -> list[int]:
    return _load_counter(spec)(texts)


def check_tokenizer(spec: str) -> None:
    """Fail early (on the driver, with a one-line message) when the tokenizer cannot load."""
    _load_counter(spec)


def token_count_batches(spec: str):
    """mapInArrow function: (doc_id, text) → (doc_id, token_count)."""

    def run(batches):
        for batch in batches:
            counts = count_tokens([t or "" for t in batch.column("text").to_pylist()], spec)
            yield pa.RecordBatch.from_arrays(
                [batch.column("doc_id"), pa.array(counts, pa.int64())], names=["doc_id", "token_count"]
            )

    return run


def gold_rows(kept, settings: GoldSettings, run_id: str):
    """gold.training_corpus rows from kept silver.files rows."""
    from pyspark.sql import functions as F

    docs = kept.where(F.col("language").isNotNull() & F.col("text").isNotNull()).select(
        F.col("file_id").alias("doc_id"),
        "repo_id",
        "repo_url",
        "commit_sha",
        "path",
        "language",
        "text",
        "license_spdx",
        "license_class",
        split_column(settings).alias("split"),
        F.octet_length("text").cast("bigint").alias("size_bytes"),
        "exact_dup_key",
        F.lit(run_id).alias("run_id"),
    )
    tokens = docs.select("doc_id", "text").mapInArrow(
        token_count_batches(settings.tokenizer), "doc_id string, token_count bigint"
    )
    return docs.join(tokens, "doc_id")
