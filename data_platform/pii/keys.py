"""Keys, tokens and passwords: detect-secrets' detectors applied to whole texts.

Keys and secrets come from detect-secrets' detectors (AWS, GitHub, GitLab, Slack, Stripe,
npm, PyPI, OpenAI, SendGrid, Twilio, Mailchimp, Discord, Telegram, Square, Azure storage,
Artifactory, private keys, JWT, basic-auth URLs, secret keywords, high-entropy strings)
applied to the whole text rather than line by line: one pass of each compiled pattern over a
file is what keeps this cheap enough to run on every file. The keyword and entropy detectors
are noisy on real code, so their hits go through false-positive heuristics (placeholders,
templates, UUIDs, hashes, lockfiles, ids).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from data_platform.pii.allow import KEY, PASSWORD, is_documentation_host
from data_platform.pii.match import PiiMatch
from data_platform.pii.text import line_bounds

# --------------------------------------------------------------------------- keys (detect-secrets)


@lru_cache(maxsize=1)
def _regex_detectors() -> tuple[tuple[str, str, re.Pattern], ...]:
    """(detector name, pii type, pattern) for every token-shaped detect-secrets detector.

    Detectors that only look for a vendor word followed by any value (Cloudant, IBM,
    SoftLayer) are left out: on code they fire on ordinary assignments.
    """
    from detect_secrets.plugins.artifactory import ArtifactoryDetector
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.square_oauth import SquareOAuthDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    detectors = []
    for plugin in (
        AWSKeyDetector,
        ArtifactoryDetector,
        AzureStorageKeyDetector,
        DiscordBotTokenDetector,
        GitHubTokenDetector,
        GitLabTokenDetector,
        MailchimpDetector,
        NpmDetector,
        OpenAIDetector,
        PypiTokenDetector,
        SendGridDetector,
        SlackDetector,
        SquareOAuthDetector,
        StripeDetector,
        TelegramBotTokenDetector,
        TwilioKeyDetector,
    ):
        for pattern in plugin.denylist:
            detectors.append((plugin.__name__, KEY, pattern))
    for pattern in BasicAuthDetector.denylist:
        detectors.append((BasicAuthDetector.__name__, PASSWORD, pattern))
    return tuple(detectors)


def _spans_of(m: re.Match) -> list[tuple[int, int]]:
    """The secret inside a match: its capture groups when the pattern has any, else all of it."""
    spans = [m.span(i) for i in range(1, m.re.groups + 1) if m.group(i)]
    # A group that only picks the token's prefix ("(ghp|gho)_...") is not the secret itself.
    if spans and not (len(spans) == 1 and spans[0][0] == m.start() and spans[0][1] < m.end()):
        return spans
    return [m.span()]


_HOST_RE = re.compile(r"[A-Za-z0-9.-]+")


def _documentation_url(text: str, at: int) -> bool:
    """True when the URL credentials ending at ``at`` (the "@") are for a documentation host."""
    host = _HOST_RE.match(text, at + 1)
    return bool(host) and is_documentation_host(host.group())


def _find_detector_keys(text: str) -> list[PiiMatch]:
    found = []
    for name, kind, pattern in _regex_detectors():
        for m in pattern.finditer(text):
            if kind == PASSWORD and _documentation_url(text, m.end() - 1):
                continue  # "https://user:pass@example.com/": documentation, not a credential
            for start, end in _spans_of(m):
                value = text[start:end]
                if kind == PASSWORD and not _looks_like_password(value):
                    continue
                found.append(PiiMatch(kind, start, end, name))
    return found


_PRIVATE_KEY_RE = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.DOTALL
)
_PUTTY_KEY_RE = re.compile(r"PuTTY-User-Key-File-\d+:.*?(?:Private-MAC: \S+|\Z)", re.DOTALL)


def _find_private_keys(text: str) -> list[PiiMatch]:
    if "PRIVATE KEY" not in text and "PuTTY-User-Key-File" not in text:
        return []
    found = []
    for pattern in (_PRIVATE_KEY_RE, _PUTTY_KEY_RE):
        for m in pattern.finditer(text):
            found.append(PiiMatch(KEY, m.start(), m.end(), "PrivateKeyDetector"))
    return found


_JWT_TAIL_RE = re.compile(r"[A-Za-z0-9_\-.+/=]*")


def _find_jwts(text: str) -> list[PiiMatch]:
    if "eyJ" not in text:
        return []
    from detect_secrets.plugins.jwt import JwtTokenDetector

    found = []
    for pattern in JwtTokenDetector.denylist:
        for m in pattern.finditer(text):
            # The pattern's last part is lazy: extend the match over the signature.
            end = _JWT_TAIL_RE.match(text, m.end()).end()
            if JwtTokenDetector.is_formally_valid(text[m.start() : end]):
                found.append(PiiMatch(KEY, m.start(), end, "JwtTokenDetector"))
    return found


# --------------------------------------------------------------------------- keywords (password = "...")

# A secret keyword followed by an assignment, comparison or call: only those lines are worth
# the keyword detector's (expensive) patterns; a bare Python `pass` statement is not.
_KEYWORD_HINT_RE = re.compile(
    r"(?:api_?key|auth_?key|service_?key|account_?key|db_?key|database_?key|priv_?key|private_?key|client_?key"
    r"|pass|pwd|secret|contrase)\w*['\"\]]{0,2}\s*(?:[:!=]|\.assign|\()",
    re.IGNORECASE,
)
_PLACEHOLDER_WORDS = (
    "xxx",
    "***",
    "...",
    "change",
    "example",
    "your",
    "dummy",
    "placeholder",
    "fake",
    "sample",
    "secret",
    "password",
    "passwd",
    "test",
    "todo",
    "fixme",
    "none",
    "null",
    "default",
    "redacted",
    "<",
    ">",
    "{",
    "}",
    "${",
    "%s",
    "%d",
    "%(",
    "\\",
    "(",
    ")",
    "enter",
    "insert",
    "here",
)
_CONFIG_SUFFIXES = (".yaml", ".yml", ".ini", ".cfg", ".conf", ".properties", ".toml", ".env")


@lru_cache(maxsize=1)
def _keyword_regexes():
    from detect_secrets.plugins import keyword

    return keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, keyword.CONFIG_DENYLIST_REGEX_TO_GROUP


def _looks_like_password(value: str) -> bool:
    """A secret-looking literal rather than prose, a placeholder, a template or a reference."""
    if not 6 <= len(value) <= 200 or any(c.isspace() for c in value):
        return False
    lowered = value.lower()
    if value[0] == "$" or any(word in lowered for word in _PLACEHOLDER_WORDS):
        return False  # placeholders, templates ("${X}", "$X", "%s"), references and calls
    if re.fullmatch(r"[\w.]+\.[A-Za-z_]\w*", value) or re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
        return False  # a dotted reference or a CONSTANT_NAME
    if re.fullmatch(r"[A-Z]?[a-z]+", value):
        return False  # a plain word ("Incorrect", "Secret"): a label or test value, not a credential
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
    return classes >= 2 and len(set(value)) >= 5




def _find_keywords(text: str, path: str | None) -> list[PiiMatch]:
    code_regexes, config_regexes = _keyword_regexes()
    regexes = config_regexes if path and path.lower().endswith(_CONFIG_SUFFIXES) else code_regexes
    found = []
    seen_lines: set[int] = set()
    for hint in _KEYWORD_HINT_RE.finditer(text):
        line_start, line_end = line_bounds(text, hint.start())
        if line_start in seen_lines or line_end - line_start > 1000:
            continue
        seen_lines.add(line_start)
        line = text[line_start:line_end]
        for pattern, group in regexes.items():
            m = pattern.search(line)
            if not m or not m.group(group):
                continue
            value = m.group(group)
            if not _looks_like_password(value):
                continue
            keyword = (m.group(1) or "").lower() if pattern.groups >= 1 else ""
            kind = PASSWORD if any(w in keyword for w in ("pass", "pwd", "contrase")) else KEY
            start = line_start + m.start(group)
            found.append(PiiMatch(kind, start, start + len(value), "KeywordDetector"))
            break
    return found


# --------------------------------------------------------------------------- high-entropy strings

_BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
_QUOTED_RE = re.compile(r"(['\"])([A-Za-z0-9+/=_-]{20,512})\1")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_HASH_CONTEXT_RE = re.compile(
    r"(sha1|sha224|sha256|sha384|sha512|md5|blake2|hash|digest|checksum|integrity|etag|commit|revision|rev|"
    r"oid|fingerprint|nonce|salt|uuid|guid|_id|\bid)\W{0,6}$",
    re.IGNORECASE,
)
_SECRET_CONTEXT_RE = re.compile(r"key|secret|token|passw|pwd|auth|credential|bearer|signature", re.IGNORECASE)
_LOCKFILE_NAMES = (
    ".lock",
    "lock.json",
    "lock.yaml",
    "go.sum",
    "Cargo.lock",
    "Pipfile.lock",
    "poetry.lock",
    "yarn.lock",
    "requirements.txt",
    "Package.resolved",
    "Cartfile.resolved",
    "gradle.lockfile",
)
BASE64_ENTROPY_LIMIT = 4.5  # detect-secrets' defaults
HEX_ENTROPY_LIMIT = 3.0


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def _is_sequential(value: str) -> bool:
    from detect_secrets.filters.heuristic import is_sequential_string

    return is_sequential_string(value)


def _is_encoded_text(value: str) -> bool:
    """True when ``value`` is base64 that decodes to printable ASCII; random keys decode to noise."""
    import base64
    import binascii

    try:
        raw = base64.b64decode(
            value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value else None
        )
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= 8 and all(32 <= b < 127 or b in (9, 10, 13) for b in raw)


def _find_high_entropy(text: str, path: str | None) -> list[PiiMatch]:
    if path and path.endswith(_LOCKFILE_NAMES):
        return []  # lockfiles are full of integrity hashes, never credentials
    found = []
    for m in _QUOTED_RE.finditer(text):
        value = m.group(2)
        start, end = m.span(2)
        before = text[max(0, start - 40) : start - 1]
        if _HASH_CONTEXT_RE.search(before) or _UUID_RE.search(value) or _is_sequential(value):
            continue
        if _HEX_RE.fullmatch(value):
            # Bare hex is usually a hash (git ids, checksums); a key only when named like one.
            line_start, _ = line_bounds(text, start)
            if not _SECRET_CONTEXT_RE.search(text[line_start:start]):
                continue
            if shannon_entropy(value) <= HEX_ENTROPY_LIMIT:
                continue
        else:
            has_classes = (
                any(c.isdigit() for c in value)
                and any(c.isupper() for c in value)
                and any(c.islower() for c in value)
            )
            if not has_classes or shannon_entropy(value) <= BASE64_ENTROPY_LIMIT:
                continue
            # Identifiers and paths ("some_module_name_here", "a/b/c/d") are low-entropy per segment.
            if "/" in value and all(part.isalpha() or part == "" for part in value.split("/")):
                continue
            if all(part.isalpha() or part.isdigit() or not part for part in re.split(r"[_\-]", value)):
                continue  # snake_case / kebab-case words and numbers
            if _is_encoded_text(value):
                continue  # base64 of readable text (test vectors, fixtures), not key material
        found.append(PiiMatch(KEY, start, end, "HighEntropyString"))
    return found




def find_keys(text: str, path: str | None = None) -> list[PiiMatch]:
    """Keys, tokens and passwords in ``text`` (overlapping findings are resolved by the caller)."""
    found = _find_private_keys(text) + _find_jwts(text) + _find_detector_keys(text)
    if _KEYWORD_HINT_RE.search(text):
        found += _find_keywords(text, path)
    return found + _find_high_entropy(text, path)


def find_keys_in_literal(line_prefix: str, literal: str, path: str | None = None) -> list[PiiMatch]:
    """Keys in one (reassembled) string literal, seen as ``<line_prefix>"<literal>"``.

    Positions are relative to ``literal``; findings outside it are dropped (the caller sees
    them in the original text anyway). High-entropy hits are left out here: joining
    unrelated literals makes random-looking strings too easily.
    """
    line = f'{line_prefix}"{literal}"'
    offset = len(line_prefix) + 1
    found = _find_jwts(line) + _find_detector_keys(line)
    if _KEYWORD_HINT_RE.search(line):
        found += _find_keywords(line, path)
    return [
        PiiMatch(m.kind, m.start - offset, m.end - offset, m.detector)
        for m in found
        if m.start >= offset and m.end <= offset + len(literal)
    ]
