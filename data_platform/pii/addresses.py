"""Public IP addresses (v4 and v6) that identify a host; versions and numbering are left alone."""

from __future__ import annotations

import re

from data_platform.pii.allow import IP_ADDRESS, is_allowed_ip
from data_platform.pii.match import PiiMatch
from data_platform.pii.text import line_bounds

# Not preceded/followed by more dotted numbers (OIDs, 5-part versions) or word characters.
_IPV4_RE = re.compile(r"(?<![\w.-])(?:\d{1,3}\.){3}\d{1,3}(?![\w-]|\.\d)")
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?:(?<=:):?[0-9A-Fa-f]{1,4}){0,6}(?![\w:])"
)
# Words right before a dotted number that make it a version, not an address.
_VERSION_CONTEXT_RE = re.compile(
    r"(?:\b(?:version|release|ver|rev|build|v|python|sdk|api)|_version__|==|>=|<=|~=|!=|\^|~)[\s\"':=(,]{0,4}$",
    re.IGNORECASE,
)
_ADDRESS_CONTEXT_RE = re.compile(
    r"\bip|addr|host|server|dns|connect|socket|https?:|ping|route|gateway|proxy|bind|listen|remote|peer",
    re.IGNORECASE,
)


def _find_ipv4(text: str) -> list[PiiMatch]:
    found = []
    for m in _IPV4_RE.finditer(text):
        value = m.group()
        if any(len(octet) > 1 and octet[0] == "0" for octet in value.split(".")):
            continue  # "01.02.03.04" is a date or version, not an address
        if _VERSION_CONTEXT_RE.search(text[max(0, m.start() - 16) : m.start()]):
            continue
        if all(len(octet) == 1 for octet in value.split(".")[:3]):
            # "7.1.4.34" is far more often a version or a section number than an address:
            # only an address-like context on the same line makes it one.
            line_start, line_end = line_bounds(text, m.start())
            if not _ADDRESS_CONTEXT_RE.search(text[line_start:line_end]):
                continue
        if not is_allowed_ip(value):
            found.append(PiiMatch(IP_ADDRESS, m.start(), m.end(), "ipv4"))
    return found


def _find_ipv6(text: str) -> list[PiiMatch]:
    found = []
    for m in _IPV6_RE.finditer(text):
        value = m.group()
        # "a::b" in C++ or "12:30:45" times parse as IPv6 too; demand an address-like shape.
        if value.count(":") < 4 or not any(c.isdigit() for c in value):
            continue
        if not is_allowed_ip(value):
            found.append(PiiMatch(IP_ADDRESS, m.start(), m.end(), "ipv6"))
    return found


def find_ips(text: str) -> list[PiiMatch]:
    return _find_ipv4(text) + (_find_ipv6(text) if text.count(":") >= 3 else [])
