"""Bearer tokens, bind address without keys, token-bucket rate limits, request groups."""

import pytest
from pydantic import SecretStr

from serving.api.security import Authenticator, RateLimiter, bind_host, configured_keys, key_id
from serving.settings import API_KEYS_ENV, ServeSettings
from serving.supersede import RequestGroups, Superseded

KEY = "k" * 20


def test_authenticator_accepts_only_configured_bearer_tokens():
    auth = Authenticator([KEY, "z" * 24])
    assert auth.enabled
    assert auth.check(f"Bearer {KEY}") == key_id(KEY)
    assert auth.check(f"bearer {'z' * 24}") == key_id("z" * 24)
    for header in (None, "", KEY, f"Basic {KEY}", f"Bearer {KEY}x", "Bearer ", f"Bearer {KEY[:-1]}"):
        assert auth.check(header) is None
    assert KEY not in key_id(KEY) and key_id(KEY).startswith("key-")
    assert not Authenticator([]).enabled


def test_keys_come_from_config_and_environment_without_duplicates():
    settings = ServeSettings(api_keys=[SecretStr(KEY)])
    assert configured_keys(settings, {API_KEYS_ENV: f" {KEY}, {'y' * 16} ,"}) == (KEY, "y" * 16)
    with pytest.raises(ValueError, match="at least 16"):
        configured_keys(ServeSettings(), {API_KEYS_ENV: "short"})
    with pytest.raises(ValueError):
        ServeSettings(api_keys=["too short"])
    assert "k" * 20 not in ServeSettings(api_keys=[KEY]).model_dump_json()


def test_without_keys_the_server_only_binds_loopback():
    assert bind_host("0.0.0.0", auth_enabled=True) == ("0.0.0.0", None)
    assert bind_host("::1", auth_enabled=False) == ("::1", None)
    host, warning = bind_host("0.0.0.0", auth_enabled=False)
    assert host == "127.0.0.1" and "no API keys" in warning


def test_rate_limiter_allows_a_burst_then_refills():
    now = [100.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0)
    assert RateLimiter.retry_after_header(wait) == "1"
    assert limiter.acquire("b") == 0.0  # callers are limited separately
    now[0] += 1.0
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert RateLimiter(per_minute=0, burst=1).acquire("a") == 0.0  # disabled


def test_request_groups_cancel_older_and_refuse_late_requests():
    groups = RequestGroups()
    cancelled = []
    first = lambda why: cancelled.append(("first", why))  # noqa: E731
    second = lambda why: cancelled.append(("second", why))  # noqa: E731
    groups.enter("key", "alice", 1, first)
    groups.enter("key", "bob", 1, second)  # another user: separate group
    groups.enter("key", "alice", 1, second)  # same sequence: both run
    assert cancelled == []
    groups.enter("key", "alice", 2, lambda why: None)
    assert [name for name, _ in cancelled] == ["first", "second"]
    assert isinstance(cancelled[0][1], Superseded) and cancelled[0][1].newer == 2
    with pytest.raises(Superseded):
        groups.enter("key", "alice", 1, first)
    groups.leave("key", "alice", 2, first)  # leaving with an unknown callback is harmless
