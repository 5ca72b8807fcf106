"""The allow-list: look-alikes that are never PII, shared by redaction and the gold gate.

One list, so that what the redactor leaves in the text is exactly what the gate accepts:

* documentation e-mail domains (RFC 2606 / RFC 6761: ``example.com``, ``example.org``,
  ``example.net``, ``example.edu`` and their subdomains; the reserved TLDs ``.example``,
  ``.test``, ``.invalid``), for addresses and for credentials in URLs (``https://u:p@example.com``);
* documentation and non-routable IP ranges (RFC 5737 ``192.0.2.0/24``, ``198.51.100.0/24``,
  ``203.0.113.0/24``; RFC 3849 ``2001:db8::/32``; plus private, loopback, link-local,
  multicast and reserved space, which identify no one);
* the placeholders redaction writes itself (``<EMAIL>`` …), which no detector may match.
"""

from __future__ import annotations

import ipaddress

EMAIL = "email"
IP_ADDRESS = "ip_address"
KEY = "key"
PASSWORD = "password"
PII_TYPES = (EMAIL, IP_ADDRESS, KEY, PASSWORD)
PLACEHOLDERS = {EMAIL: "<EMAIL>", IP_ADDRESS: "<IP_ADDRESS>", KEY: "<KEY>", PASSWORD: "<PASSWORD>"}

DOCUMENTATION_DOMAINS = ("example.com", "example.org", "example.net", "example.edu")
RESERVED_TLDS = ("example", "test", "invalid")
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)

# "icon@2x.png", "module@1.2.js": file names, not addresses.
FILE_NAME_SUFFIXES = frozenset(
    "png jpg jpeg gif svg webp ico bmp js mjs ts tsx jsx css scss less py pyc rb go rs java kt c h cc cpp hpp "
    "json yaml yml toml xml html htm md txt lock zip gz tar whl so dll map wasm".split()
)


def is_documentation_host(host: str) -> bool:
    """True for the documentation domains, their subdomains and the reserved TLDs."""
    host = host.lower().rstrip(".")
    if host.rsplit(".", 1)[-1] in RESERVED_TLDS:
        return True
    return any(host == allowed or host.endswith("." + allowed) for allowed in DOCUMENTATION_DOMAINS)


def is_allowed_email_domain(domain: str) -> bool:
    """True for documentation hosts and for file names that look like domains ("icon@2x.png")."""
    return is_documentation_host(domain) or domain.lower().rsplit(".", 1)[-1] in FILE_NAME_SUFFIXES


def is_allowed_ip(candidate: str) -> bool:
    """True when ``candidate`` is not an address that identifies anyone (or not an address at all)."""
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return True
    if any(address in network for network in DOCUMENTATION_NETWORKS if network.version == address.version):
        return True
    return not address.is_global or address.is_multicast


def is_placeholder(value: str) -> bool:
    return value in PLACEHOLDERS.values()
