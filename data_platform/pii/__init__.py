"""PII and secret detection and redaction: one detector for curation and the gold gate.

``find_pii(text, path)`` lists findings (emails, public IP addresses, keys/tokens,
passwords); ``redact(text, path)`` replaces each with a typed placeholder (``<EMAIL>``,
``<IP_ADDRESS>``, ``<KEY>``, ``<PASSWORD>``) and counts them per type. Curation redacts
every file with it; the gold quality gate runs ``find_pii`` on gold text and counts what is
left, so the two can never disagree: redaction repeats until ``find_pii`` finds nothing in
its output (a replacement can change the context of a neighbour, e.g. a placeholder that
says "IP" next to a dotted number), which makes ``find_pii(redact(t).text) == []`` hold by
construction. What is allowed (documentation domains and IPs, placeholders) is one list,
:mod:`data_platform.pii.allow`.

This runs in curation on every file, so it must not raise on odd input: any text is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data_platform.pii.addresses import find_ips
from data_platform.pii.allow import (
    EMAIL,
    FILE_NAME_SUFFIXES,
    IP_ADDRESS,
    KEY,
    PASSWORD,
    PII_TYPES,
    PLACEHOLDERS,
)
from data_platform.pii.concatenation import find_split_keys
from data_platform.pii.emails import find_emails
from data_platform.pii.keys import find_keys
from data_platform.pii.match import PiiMatch
from data_platform.pii.secret_files import find_secret_file_values, secret_file_kind

__all__ = [
    "EMAIL",
    "FILE_NAME_SUFFIXES",
    "IP_ADDRESS",
    "KEY",
    "PASSWORD",
    "PII_TYPES",
    "PLACEHOLDERS",
    "PiiMatch",
    "Redaction",
    "find_pii",
    "masked",
    "redact",
    "secret_file_kind",
]

# When two findings overlap, the more specific/severe one wins.
_PRIORITY = {KEY: 0, PASSWORD: 1, EMAIL: 2, IP_ADDRESS: 3}
# Redaction passes before giving up on a fixpoint; real files need one, rarely two.
MAX_PASSES = 8


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)
    matches: tuple[PiiMatch, ...] = ()  # findings of the first pass, positions in the input text
    passes: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def find_pii(text: str, path: str | None = None) -> list[PiiMatch]:
    """All findings in ``text``, overlaps resolved, sorted by position.

    ``path`` is optional; when given it tunes detection (config-file keyword rules, no
    entropy hits in lockfiles). Curation and the gate pass the same path.
    """
    if not text:
        return []
    candidates = find_keys(text, path) + find_split_keys(text, path) + find_emails(text) + find_ips(text)
    candidates += find_secret_file_values(text, path)  # .env, id_rsa, *.pem, credentials.json …
    # Longest, highest-priority findings claim their characters first.
    candidates.sort(key=lambda f: (_PRIORITY[f.kind], -(f.end - f.start), f.start))
    chosen: list[PiiMatch] = []
    for finding in candidates:
        if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def _replace(text: str, matches: list[PiiMatch], counts: dict[str, int]) -> str:
    pieces, cursor = [], 0
    for finding in matches:
        pieces.append(text[cursor : finding.start])
        pieces.append(PLACEHOLDERS[finding.kind])
        counts[finding.kind] += 1
        cursor = finding.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def redact(text: str, path: str | None = None) -> Redaction:
    """Replace PII in ``text`` with typed placeholders and count them per type.

    Repeats until :func:`find_pii` finds nothing in the result (at most ``MAX_PASSES``
    times), so the gate, which runs ``find_pii`` on redacted text, never flags a leftover.
    """
    counts = dict.fromkeys(PII_TYPES, 0)
    if not text:
        return Redaction(text, counts)
    matches = find_pii(text, path)
    first, passes = tuple(matches), 0
    while matches and passes < MAX_PASSES:
        text = _replace(text, matches, counts)
        passes += 1
        matches = find_pii(text, path)
    return Redaction(text, counts, first, passes)


def masked(value: str, keep: int = 2) -> str:
    """A finding shown without revealing it: the first characters, then its length."""
    return f"{value[:keep]}…({len(value)} chars)"
