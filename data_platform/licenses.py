"""Repository license: SPDX id from LICENSE/COPYING/README files, and its class.

Approach (the one GitHub's licensee uses): normalise the candidate file and every SPDX
license text to a set of words and pick the license with the highest Sørensen–Dice
coefficient, 2·|A∩B| / (|A|+|B|), above a confidence threshold. The reference texts are
the SPDX License List shipped by the ``spdx`` PyPI package (CC0, ~1 MB, 322 licenses), so
detection runs offline with no heavy dependency. scancode-toolkit is far more thorough but
pulls hundreds of MB and takes seconds per file; one match per repository does not need it.
An explicit ``SPDX-License-Identifier:`` line wins over text matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

PERMISSIVE = "permissive"
NON_PERMISSIVE = "non_permissive"
NO_LICENSE = "none"
MIN_DICE = 0.90  # licensee uses 0.98 after much finer normalisation; ours is coarser

# Files whose name (case-insensitive, any extension) holds a license, best first.
_LICENSE_NAME = re.compile(r"^(un)?licen[cs]e|^copying|^copyright", re.IGNORECASE)
_README_NAME = re.compile(r"^readme", re.IGNORECASE)
_SPDX_TAG = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+-]+)")
# Lines that differ between copies of the same license: holders, years, titles.
_COPYRIGHT_LINE = re.compile(r"^\s*(copyright|\(c\)|©|all rights reserved).*$", re.IGNORECASE | re.MULTILINE)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_README_SECTION = re.compile(r"^#+\s*licen[cs]e\s*$|^licen[cs]e\s*\n[=-]+\s*$", re.IGNORECASE | re.MULTILINE)

# Permissive families by SPDX id prefix; everything else that matched is treated as
# non-permissive (copyleft, non-commercial, no-derivatives or simply unknown terms).
_PERMISSIVE_PREFIXES = (
    "MIT", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Apache-", "ISC", "Zlib", "zlib-", "Unlicense", "CC0-",
    "BSL-1.0", "WTFPL", "Python-2.0", "PSF-", "PostgreSQL", "X11", "NCSA", "UPL-", "Artistic-2.0", "curl",
    "Libpng", "libpng", "FSFAP", "FSFUL", "ZPL-2.", "AFL-", "Beerware", "BlueOak-", "CC-BY-1", "CC-BY-2",
    "CC-BY-3", "CC-BY-4", "Ruby", "OpenSSL", "ECL-2.0", "EFL-2.0", "NTP", "HPND", "TCL", "W3C",
)
_NON_PERMISSIVE_MARKERS = ("-NC", "-ND", "-SA", "GPL", "JSON")  # CC variants, GPL family; JSON's "good not evil"


@dataclass(frozen=True)
class LicenseMatch:
    spdx_id: str | None
    license_class: str
    source_path: str | None = None
    score: float = 0.0


# Weak copyleft: obligations attach to the licensed files (and their modifications), not to a
# larger work that merely uses them; admitted into gold only with filters.allow_weak_copyleft.
_WEAK_COPYLEFT_PREFIXES = ("LGPL-", "MPL-", "EPL-", "CDDL-", "MS-RL", "CPL-1.0")


def is_weak_copyleft(spdx_id: str | None) -> bool:
    return bool(spdx_id) and spdx_id.startswith(_WEAK_COPYLEFT_PREFIXES)


def license_class(spdx_id: str | None) -> str:
    if not spdx_id:
        return NO_LICENSE
    if any(marker in spdx_id for marker in _NON_PERMISSIVE_MARKERS):
        return NON_PERMISSIVE
    return PERMISSIVE if spdx_id.startswith(_PERMISSIVE_PREFIXES) else NON_PERMISSIVE


def _words(text: str) -> frozenset[str]:
    text = _COPYRIGHT_LINE.sub(" ", text.lower().replace("licence", "license"))
    return frozenset(_WORD.findall(text))


@cache
def _reference() -> tuple[tuple[str, frozenset[str]], ...]:
    import spdx

    refs = []
    for record in spdx.licenses():
        if record["template"].startswith("deprecated_"):
            continue
        license_ = spdx.License(record)
        refs.append((record["id"], _words(license_.template)))
    return tuple(refs)


@cache
def _ids_by_lower() -> dict[str, str]:
    import spdx

    return {record["id"].lower(): record["id"] for record in spdx.licenses()}


def match_license_text(text: str) -> tuple[str | None, float]:
    """Best SPDX id for a full license text and its Dice score; (None, best) below MIN_DICE."""
    words = _words(text)
    if not words:
        return None, 0.0
    best_id, best = None, 0.0
    for spdx_id, ref in _reference():
        # |A∩B| ≤ min(|A|,|B|): skip references whose size alone rules them out.
        if 2 * min(len(words), len(ref)) / (len(words) + len(ref)) <= best:
            continue
        score = 2 * len(words & ref) / (len(words) + len(ref))
        if score > best:
            best_id, best = spdx_id, score
    return (best_id, best) if best >= MIN_DICE else (None, best)


def spdx_tag(text: str) -> str | None:
    found = _SPDX_TAG.search(text)
    if not found:
        return None
    tag = found.group(1).rstrip(".")
    return _ids_by_lower().get(tag.lower(), tag)


def readme_license_section(text: str) -> str | None:
    heading = _README_SECTION.search(text)
    if not heading:
        return None
    rest = text[heading.end() :]
    next_heading = re.search(r"^#", rest, re.MULTILINE)
    return rest[: next_heading.start()] if next_heading else rest


def _named_license(section: str) -> str | None:
    """A license named in prose (``licensed under the MIT License``), longest SPDX name first."""
    import spdx

    lowered = " ".join(section.lower().split())
    names = sorted(((r["name"].lower(), r["id"]) for r in spdx.licenses()), key=lambda item: -len(item[0]))
    for name, spdx_id in names:
        if len(name) > 6 and name in lowered:
            return spdx_id
    return None


def is_license_candidate(path: str) -> bool:
    """Root-level files worth reading for the repository license."""
    return "/" not in path and bool(_LICENSE_NAME.match(path) or _README_NAME.match(path))


def detect_license(files: dict[str, str]) -> LicenseMatch:
    """License of a repository from its root-level candidate files (path → text)."""
    license_files = sorted((p for p in files if _LICENSE_NAME.match(p)), key=lambda p: (len(p), p))
    for path in license_files:
        text = files[path]
        tagged = spdx_tag(text[:2000])
        if tagged:
            return LicenseMatch(tagged, license_class(tagged), path, 1.0)
        spdx_id, score = match_license_text(text)
        if spdx_id:
            return LicenseMatch(spdx_id, license_class(spdx_id), path, score)
    for path in sorted(p for p in files if _README_NAME.match(p)):
        text = files[path]
        tagged = spdx_tag(text)
        if tagged:
            return LicenseMatch(tagged, license_class(tagged), path, 1.0)
        section = readme_license_section(text)
        if section:
            spdx_id, score = match_license_text(section)
            spdx_id = spdx_id or _named_license(section)
            if spdx_id:
                return LicenseMatch(spdx_id, license_class(spdx_id), path, max(score, 0.5))
    return LicenseMatch(None, NO_LICENSE)
