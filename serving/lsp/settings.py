"""The language server's settings: the VS Code extension's names, defaults and ranges.

They come, each layer over the one before, from the defaults, ``codemill lsp``'s flags, the
client's ``initializationOptions`` and ``workspace/didChangeConfiguration``. Options may be
flat (``{"maxTokens": 64}``) or under a ``codemill`` key (``{"codemill": {"maxTokens": 64}}``,
what most editors send for a section named ``codemill``). A wrong value keeps the previous
one and is reported, so one typo in an editor's config never disables completion silently.
The API key is not a setting (configs get committed): it comes from an environment variable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

MODES = ("line", "block", "auto")


@dataclass(frozen=True)
class LspSettings:
    enabled: bool = True
    server_url: str = "http://127.0.0.1:8000"
    model: str = "default"
    mode: str = "auto"
    debounce_ms: int = 150
    max_tokens: int = 128
    temperature: float = 0.2
    enabled_languages: tuple[str, ...] = ("*",)
    extra_context_chars: int = 6000
    events_enabled: bool = True
    max_prefix_chars: int = 8000
    max_suffix_chars: int = 2000
    request_timeout_ms: int = 30000

    def language_enabled(self, language: str) -> bool:
        return self.enabled and any(entry in ("*", language) for entry in self.enabled_languages)


def _int_in(low: int, high: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value)


# field -> (option key as editors write it, check)
OPTIONS: dict[str, tuple[str, Any]] = {
    "enabled": ("enabled", lambda v: isinstance(v, bool)),
    "server_url": ("serverUrl", _http_url),
    "model": ("model", lambda v: isinstance(v, str) and bool(v.strip())),
    "mode": ("mode", lambda v: v in MODES),
    "debounce_ms": ("debounceMs", _int_in(0, 5000)),
    "max_tokens": ("maxTokens", _int_in(1, 4096)),
    "temperature": ("temperature", lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 2),
    "enabled_languages": ("enabledLanguages", _string_list),
    "extra_context_chars": ("extraContext.maxChars", _int_in(0, 200_000)),
    "events_enabled": ("events.enabled", lambda v: isinstance(v, bool)),
    "max_prefix_chars": ("maxPrefixChars", _int_in(1, 1_000_000)),
    "max_suffix_chars": ("maxSuffixChars", _int_in(0, 1_000_000)),
    "request_timeout_ms": ("requestTimeoutMs", _int_in(100, 600_000)),
}


def _lookup(options: Mapping[str, Any], key: str) -> Any:
    """``a.b`` as a flat key or nested mappings."""
    if key in options:
        return options[key]
    head, _, rest = key.partition(".")
    inner = options.get(head) if rest else None
    return _lookup(inner, rest) if isinstance(inner, Mapping) else None


def apply_options(base: LspSettings, options: Any) -> tuple[LspSettings, list[str]]:
    """``base`` with the valid values of ``options`` applied, and a problem per invalid one."""
    if not isinstance(options, Mapping):
        return base, ([] if options is None else [f"codemill settings must be an object, got {type(options).__name__}"])
    if isinstance(options.get("codemill"), Mapping):
        options = options["codemill"]
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for field, (key, valid) in OPTIONS.items():
        value = _lookup(options, key)
        if value is None:
            continue
        if not valid(value):
            problems.append(f"codemill.{key}: invalid value {value!r}, keeping {getattr(base, field)!r}")
            continue
        if field == "enabled_languages":
            value = tuple(value)
        elif field == "server_url":
            value = value.rstrip("/")
        elif field == "temperature":
            value = float(value)
        changes[field] = value
    return dataclasses.replace(base, **changes), problems
