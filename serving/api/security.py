"""Who may call the API and how often: bearer tokens and per-token rate limits.

Tokens come from ``serve.api_keys`` and the ``CODEMILL_SERVE_API_KEYS`` environment variable
(comma-separated; the way to keep them out of config files). A presented token is compared
with every configured one through ``hmac.compare_digest``, so neither the comparison nor
which key matched shows in the response time. Logs, metrics and events carry only a
key's fingerprint (:func:`key_id`), never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from serving.settings import API_KEYS_ENV, ServeSettings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def configured_keys(settings: ServeSettings, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    environ = os.environ if environ is None else environ
    from_env = [key.strip() for key in environ.get(API_KEYS_ENV, "").split(",") if key.strip()]
    short = [key for key in from_env if len(key) < 16]
    if short:
        raise ValueError(f"{API_KEYS_ENV}: API keys must be at least 16 characters ({len(short)} too short)")
    return tuple(dict.fromkeys([key.get_secret_value() for key in settings.api_keys] + from_env))


def key_id(token: str) -> str:
    """A short, stable fingerprint of a key for logs and limits."""
    return "key-" + hashlib.sha256(token.encode()).hexdigest()[:12]


class Authenticator:
    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [key.encode() for key in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def check(self, authorization: str | None) -> str | None:
        """The caller's key id, or None when the header holds no configured key."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        presented = token.strip().encode()
        matched = False
        for key in self._keys:  # no early exit: every key is compared every time
            matched |= hmac.compare_digest(presented, key)
        return key_id(token.strip()) if matched else None


def bind_host(requested: str, auth_enabled: bool) -> tuple[str, str | None]:
    """(host to bind, warning): without API keys the server only listens on loopback."""
    if auth_enabled or requested in LOOPBACK_HOSTS:
        return requested, None
    return "127.0.0.1", (
        f"no API keys configured (serve.api_keys or ${API_KEYS_ENV}): refusing to listen on {requested}; "
        "bound to 127.0.0.1 only. Configure keys to serve other machines."
    )


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per caller: ``burst`` requests at once, refilled at ``per_minute``/60 per second."""

    def __init__(self, per_minute: int, burst: int, clock=time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, caller: str) -> float:
        """0 when the request may go ahead, else the seconds to wait (Retry-After)."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    @staticmethod
    def retry_after_header(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
