"""Keep secrets found by the gate out of everything the gate writes for people to read.

ops.quality_results, the HTML report, Great Expectations' stored validation results and
Data Docs are not restricted (docs/security.md): anyone who reads reports reads them. A
failing expectation's example values are rows of gold, and when the expectation is a secret
detector (a regex for key shapes, the PII check) the example *is* the secret. So every value
shown as an example goes through :func:`safe_example`, and after Great Expectations has
written its own files the raw secrets it stored are replaced in place (:func:`scrub_tree`).

What counts as a secret inside a value: every substring the failing expectation's own
patterns match (that is why the row failed) and every finding of the pipeline's PII
detector (:func:`data_platform.pii.find_pii`, the redactor's). Each is shown masked: its
first two characters and its length.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path

# Files Great Expectations writes that can hold example values (results, Data Docs).
_TEXT_SUFFIXES = (".json", ".html", ".htm", ".js", ".md", ".txt", ".yml", ".yaml")
# A secret shorter than this is not worth masking (and would corrupt unrelated text).
MIN_SECRET_CHARS = 6


def _compiled(patterns: Iterable[str]) -> list[re.Pattern]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error:  # a Java-only construct: PII detection still applies
            continue
    return compiled


def secrets_in(value: str, patterns: Iterable[str] = ()) -> set[str]:
    """Substrings of ``value`` that must not be shown: pattern matches and PII findings."""
    from data_platform.pii import find_pii

    if not value:
        return set()
    found = {m.group(0) for pattern in _compiled(patterns) for m in pattern.finditer(value)}
    found |= {finding.value(value) for finding in find_pii(value)}
    return {secret for secret in found if len(secret) >= MIN_SECRET_CHARS}


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by its masked form (longest first, so none survives in part)."""
    from data_platform.pii import masked

    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, masked(secret))
    return text


def safe_example(value: str, patterns: Iterable[str] = ()) -> str:
    """An example value fit for an unrestricted report: its secrets masked."""
    return mask_secrets(value, secrets_in(value, patterns)) if value else value


def _renderings(secret: str) -> set[str]:
    """How a secret can appear in a file: raw, JSON-escaped, HTML-escaped (and both)."""
    as_json = json.dumps(secret)[1:-1]
    as_json_ascii = json.dumps(secret, ensure_ascii=True)[1:-1]
    forms = {secret, as_json, as_json_ascii, html.escape(secret), html.escape(secret, quote=False)}
    forms |= {html.escape(form) for form in (as_json, as_json_ascii)}
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


def scrub_tree(root: Path, secrets: Iterable[str]) -> list[Path]:
    """Replace every rendering of ``secrets`` in the text files under ``root``; returns the files changed."""
    from data_platform.pii import masked

    replacements: dict[str, str] = {}
    for secret in set(secrets):
        for form in _renderings(secret):
            replacements[form] = masked(secret)
    if not replacements or not root.exists():
        return []
    ordered = sorted(replacements, key=len, reverse=True)
    changed = []
    for path in root.rglob("*"):
        if not path.is_file() or not path.name.lower().endswith(_TEXT_SUFFIXES):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        scrubbed = text
        for form in ordered:
            if form in scrubbed:
                scrubbed = scrubbed.replace(form, replacements[form])
        if scrubbed != text:
            path.write_text(scrubbed, encoding="utf-8")
            changed.append(path)
    return changed


def example_values(result: dict) -> list[str]:
    """Every string value a GE result dict holds as an example of what failed."""
    details = result.get("result") or {}
    values: list = list(details.get("partial_unexpected_list") or [])
    values += list(details.get("unexpected_list") or [])
    for row in details.get("partial_unexpected_index_list") or []:
        values += list(row.values()) if isinstance(row, dict) else [row]
    for count in details.get("partial_unexpected_counts") or []:
        values.append(count.get("value") if isinstance(count, dict) else count)
    return [value for value in values if isinstance(value, str)]


def result_patterns(result: dict) -> list[str]:
    """The regexes a GE expectation matched values against (empty for other expectations)."""
    kwargs = (result.get("expectation_config") or {}).get("kwargs") or {}
    return list(kwargs.get("regex_list") or ([kwargs["regex"]] if kwargs.get("regex") else []))


def secrets_of_results(results: Iterable[dict]) -> set[str]:
    """The secrets inside the example values of failing GE results."""
    found: set[str] = set()
    for result in results:
        if result.get("success"):
            continue
        patterns = result_patterns(result)
        for value in example_values(result):
            found |= secrets_in(value, patterns)
    return found
