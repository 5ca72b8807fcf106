"""E-mail addresses as they appear in code, including the encodings real repositories use.

Seen in the wild and handled here:

* plain addresses in comments, docstrings and string literals, after ``mailto:``;
* URL-encoded local parts and separators (``user%3Aname:%23%40%5E@host``, ``jane%40corp.io``);
* HTML and escape-sequence spellings of ``@`` (``&#64;``, ``&#x40;``, ``\\u0040``, ``\\x40``);
* addresses right after an escape sequence inside a literal (``"To:\\njane@corp.io"``),
  where the escape letter is not part of the address.

Documentation domains and file names are allowed (:mod:`data_platform.pii.allow`).
"""

from __future__ import annotations

import re

from data_platform.pii.allow import EMAIL, is_allowed_email_domain
from data_platform.pii.match import PiiMatch

_LOCAL_CHAR = r"(?:[A-Za-z0-9_+\-]|%[0-9A-Fa-f]{2})"
_AT = r"(?:@|%40|&#0*64;|&#[xX]0*40;|\\u0040|\\x40)"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
EMAIL_RE = re.compile(
    rf"(?<![\w.%+\-])(?P<local>{_LOCAL_CHAR}(?:{_LOCAL_CHAR}|\.){{0,63}}){_AT}(?P<domain>{_DOMAIN})(?![\w-])"
)
# An "@" (any spelling) between a local-part character and a domain character: only around
# these does the full pattern run, so decorators and "a @ b" cost one cheap scan.
_SEPARATOR_RE = re.compile(rf"(?<=[A-Za-z0-9_+\-.]){_AT}(?=[A-Za-z0-9])")
_LOCAL_REACH = 3 * 64 + 2  # the longest local part, fully %-encoded
_DOMAIN_REACH = 256
_ESCAPE_LETTERS = "ntrfvb0"


def _candidates(text: str):
    """Matches of the full pattern around each plausible separator, each once."""
    end = 0
    for separator in _SEPARATOR_RE.finditer(text):
        if separator.start() < end:
            continue
        low = max(end, separator.start() - _LOCAL_REACH)
        for m in EMAIL_RE.finditer(text, low, min(len(text), separator.end() + _DOMAIN_REACH)):
            if m.start() <= separator.start() < m.end():
                end = m.end()
                yield m
                break


def find_emails(text: str) -> list[PiiMatch]:
    found = []
    for m in _candidates(text):
        if is_allowed_email_domain(m.group("domain")):
            continue
        start = m.start()
        # "\njane@corp.io" inside a literal: the "n" belongs to the escape, not to the address.
        if start > 0 and text[start - 1] == "\\" and text[start] in _ESCAPE_LETTERS and m.end("local") - start > 1:
            start += 1
        found.append(PiiMatch(EMAIL, start, m.end(), "email"))
    return found
