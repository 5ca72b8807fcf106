"""Files whose name says what they hold: key material and credential stores.

Detectors look at the shape of a value; some files are secrets by their name, whatever
their values look like (``DEBUG=0`` beside ``DB_PASSWORD=hunter2`` in a ``.env``, a PEM
block with an unusual header). Curation and the gate pass the file's path to
:func:`data_platform.pii.find_pii`, which adds these findings:

* key material (``id_rsa``, ``id_ed25519``…, ``*.pem``, ``*.key``, ``*.p12``, ``*.pfx``,
  ``*.ppk``, ``*.jks``, ``*.keystore``): the whole text is one key;
* credential stores (``.env`` and ``.env.*`` except ``.example``/``.sample``/``.template``,
  ``credentials``, ``credentials.json``, ``secrets.json``/``.yaml``/``.yml``, ``.netrc``,
  ``.pgpass``, ``.git-credentials``, ``.npmrc``, ``.pypirc``): every value is a secret (the
  right-hand side of ``NAME=value`` / ``name: value`` / ``"name": "value"``; whole lines of
  ``.git-credentials`` and ``.pgpass``; the words after ``login``/``password`` in ``.netrc``).

Placeholders that redaction wrote are not findings, so ``redact`` reaches a fixpoint.
"""

from __future__ import annotations

import posixpath
import re

from data_platform.pii.allow import KEY, PASSWORD, PLACEHOLDERS
from data_platform.pii.match import PiiMatch

KEY_FILE_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"})
KEY_FILE_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".ppk", ".jks", ".keystore")
CREDENTIAL_FILE_NAMES = frozenset(
    {"credentials", "credentials.json", "secrets.json", "secrets.yaml", "secrets.yml", ".npmrc", ".pypirc",
     ".netrc", "_netrc", ".pgpass", ".git-credentials", ".env"}
)
_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl")
_WHOLE_LINE_FILES = frozenset({".pgpass", ".git-credentials"})
_NETRC_FILES = frozenset({".netrc", "_netrc"})

_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
_JSON_VALUE_RE = re.compile(r'"([^"\n]{1,200})"\s*:\s*"((?:[^"\\\n]|\\.)*)"')
_ASSIGNMENT_RE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][\w.\-]*)[ \t]*[=:][ \t]*(['\"]?)(.*?)\2[ \t]*(?:[ \t]#.*)?$", re.MULTILINE
)
_NETRC_RE = re.compile(r"\b(login|password|account)\s+(\S+)")
_LINE_RE = re.compile(r"^[ \t]*([^#\s].*?)[ \t]*$", re.MULTILINE)


def secret_file_kind(path: str | None) -> str | None:
    """``key`` for key material, ``credentials`` for credential stores, else None."""
    if not path:
        return None
    name = posixpath.basename(path.replace("\\", "/")).lower()
    if name in KEY_FILE_NAMES or name.endswith(KEY_FILE_SUFFIXES):
        return "key"
    if name.endswith(_TEMPLATE_SUFFIXES):
        return None
    if name in CREDENTIAL_FILE_NAMES or name.startswith(".env."):
        return "credentials"
    return None


def _is_placeholder_only(value: str) -> bool:
    return not _PLACEHOLDER_RE.sub("", value).strip(" \t\r\n'\",;")


def _kind_for(name: str) -> str:
    lowered = name.lower()
    return PASSWORD if any(word in lowered for word in ("pass", "pwd")) else KEY


def _finding(kind: str, start: int, end: int, value: str) -> list[PiiMatch]:
    if _is_placeholder_only(value):
        return []
    return [PiiMatch(kind, start, end, "SecretFileDetector")]


def _whole_text(text: str) -> list[PiiMatch]:
    stripped = text.strip()
    if not stripped:
        return []
    start = text.index(stripped[0])
    return _finding(KEY, start, start + len(stripped), stripped)


def _credential_values(text: str, name: str) -> list[PiiMatch]:
    found: list[PiiMatch] = []
    if name in _WHOLE_LINE_FILES:
        for m in _LINE_RE.finditer(text):
            found += _finding(PASSWORD, m.start(1), m.end(1), m.group(1))
        return found
    if name in _NETRC_FILES:
        for m in _NETRC_RE.finditer(text):
            found += _finding(_kind_for(m.group(1)), m.start(2), m.end(2), m.group(2))
        return found
    for m in _JSON_VALUE_RE.finditer(text):
        found += _finding(_kind_for(m.group(1)), m.start(2), m.end(2), m.group(2)) if m.group(2) else []
    if found:
        return found
    for m in _ASSIGNMENT_RE.finditer(text):
        value = m.group(3)
        if value and not value.startswith(("[", "{")):
            found += _finding(_kind_for(m.group(1)), m.start(3), m.end(3), value)
    return found


def find_secret_file_values(text: str, path: str | None) -> list[PiiMatch]:
    """Findings that the file's name alone implies (none for ordinary files)."""
    kind = secret_file_kind(path)
    if kind is None or not text:
        return []
    if kind == "key":
        return _whole_text(text)
    return _credential_values(text, posixpath.basename(path.replace("\\", "/")).lower())
