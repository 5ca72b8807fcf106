"""A finding: which kind of PII, where, and which detector saw it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    detector: str

    def value(self, text: str) -> str:
        return text[self.start : self.end]
