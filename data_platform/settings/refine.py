"""Settings of deduplication, PII redaction, decontamination, filters and the gold split."""

from __future__ import annotations

from pydantic import Field

from data_platform.settings.base import Section


class DedupSettings(Section):
    num_perm: int = Field(256, ge=16, description="MinHash permutations")
    shingle_size: int = Field(5, ge=1, description="Tokens per shingle")
    threshold: float = Field(0.7, gt=0, lt=1, description="Jaccard similarity that makes two files near-duplicates")
