"""The sandbox's parts in isolation: the value codec, framing, the judge's proxy, bubblewrap's
command line and the choice of backend (the sandboxes themselves: tests/integration)."""

from __future__ import annotations

import math
import os
import sys
import threading

import pytest

from training.evaluation import inside, jail
from training.evaluation.sandbox import (
    SandboxSettings,
    SandboxUnavailable,
    choose_backend,
    interpreter_mounts,
)

# Values HumanEval's tests pass and expect (HumanEval/8 returns a tuple, /95 takes a dict, ...).
PLAIN = [
    None,
    True,
    0,
    -(10**40),
    1.5,
    -0.0,
    float("inf"),
    "héllo\n\x00",
    b"\x00\xff",
    [1, [2, "3"]],
    (1, (2,), ()),
    {"a": 1, (1, 2): [3], 4: None},
    {1, "x", (2, 3)},
    frozenset({1, 2}),
    complex(1, -2),
]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_values_cross_exactly_and_as_genuine_builtins(value):
    back = inside.decode(inside.encode(value))
    assert back == value and type(back) is type(value)
    if isinstance(value, float):
        assert math.copysign(1, back) == math.copysign(1, value)


def test_nan_and_nested_types_keep_their_identity():
    back = inside.decode(inside.encode([float("nan"), (1, [2, (3,)])]))
    assert math.isnan(back[0])
    assert back[1] == (1, [2, (3,)]) and type(back[1][1][1]) is tuple


def test_subclasses_become_their_builtin_base_so_their_methods_stay_behind():
    class Liar(int):
        def __eq__(self, other):
            return True

    class Text(str):
        pass

    back = inside.decode(inside.encode([Liar(3), Text("a")]))
    assert back == [3, "a"] and type(back[0]) is int and type(back[1]) is str
    assert back[0] != 4


@pytest.mark.parametrize(
    "value", [object(), iter([1]), {1: object()}, print], ids=["object", "iterator", "deep", "fn"]
)
def test_anything_else_is_refused_at_the_boundary(value):
    with pytest.raises(inside.WireError, match="cannot cross"):
        inside.encode(value)


@pytest.mark.parametrize(
    "data",
    [
        {"tuple": [1], "extra": 2},
        {"code": "x"},
        {"dict": [[[1], 2]]},
        {"set": [[1]]},
        {"float": 1},
        {"tuple": 1},
    ],
    ids=["two-keys", "unknown-tag", "unhashable-key", "unhashable-member", "float-not-hex", "tuple-not-list"],
)
def test_malformed_values_are_refused(data):
    with pytest.raises(inside.WireError):
        inside.decode(data)


def test_nesting_is_bounded():
    deep: list = []
    for _ in range(inside.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(inside.WireError, match="deeply"):
        inside.encode(deep)


def test_frames_round_trip_and_end_of_file_is_none():
    read, write = os.pipe()
    inside.send(write, {"value": inside.encode((1, "two"))})
    os.close(write)
    assert inside.decode(inside.receive(read)["value"]) == (1, "two")
    assert inside.receive(read) is None
    os.close(read)


def test_oversized_and_non_object_frames_are_protocol_errors():
    read, write = os.pipe()
    os.write(write, inside.HEADER.pack(inside.MAX_FRAME_BYTES + 1))
    with pytest.raises(inside.WireError, match="exceeds"):
        inside.receive(read)
    os.write(write, inside.HEADER.pack(2) + b"[]")
    with pytest.raises(inside.WireError, match="not an object"):
        inside.receive(read)
    os.close(read)
    os.close(write)


class FakeCandidate:
    """The candidate's side of the pipes, answering from a script (no sandbox: unit level)."""

    def __init__(self, answers: list[dict | None]):
        self.calls_r, self.calls_w = os.pipe()
        self.replies_r, self.replies_w = os.pipe()
        self.thread = threading.Thread(target=self._serve, args=(answers,), daemon=True)
        self.thread.start()

    def _serve(self, answers):
        inside.send(self.replies_w, {"loaded": True})
        for answer in answers:
            if inside.receive(self.calls_r) is None or answer is None:
                break
            inside.send(self.replies_w, answer)
        os.close(self.replies_w)

    def proxy(self) -> inside.Candidate:
        candidate = inside.Candidate(self.calls_w, self.replies_r, "f")
        assert candidate.wait_until_loaded() == ""
        return candidate


def test_the_proxy_returns_values_and_reraises_builtin_exceptions():
    fake = FakeCandidate(
        [
            {"value": inside.encode([1, (2,)])},
            {"raised": ["ValueError", "bad"]},
            {"raised": ["SystemExit", "0"]},
            {"raised": ["MyError", "x"]},
        ]
    )
    f = fake.proxy()
    assert f(1, key="v") == [1, (2,)]
    with pytest.raises(ValueError, match="bad"):
        f()
    with pytest.raises(inside.CandidateError, match="SystemExit"):  # never a real SystemExit
        f()
    with pytest.raises(inside.CandidateError, match="MyError"):
        f()
    assert not f.broken


def test_a_vanished_candidate_cannot_be_caught_by_the_tests_and_taints_the_run():
    fake = FakeCandidate([{"value": 1}, None])
    f = fake.proxy()
    assert f() == 1
    assert not issubclass(inside.CandidateGone, Exception)  # `except Exception` in a test cannot hide it
    with pytest.raises(inside.CandidateGone):
        f()
    assert "ended before the tests finished" in f.broken
    with pytest.raises(inside.CandidateGone):
        f()


def test_a_malformed_reply_taints_the_run():
    fake = FakeCandidate([{"value": {"code": "import os"}}])
    f = fake.proxy()
    with pytest.raises(inside.CandidateGone):
        f()
    assert "malformed" in f.broken


def test_bubblewrap_shows_only_system_directories_and_private_tmpfs():
    argv = jail.bwrap_argv("bwrap", jail.CANDIDATE, ["/opt/py"], 16 << 20)
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--clearenv"):
        assert flag in argv
    binds = [argv[i + 1] for i, arg in enumerate(argv) if arg in ("--ro-bind", "--ro-bind-try", "--bind")]
    assert "--bind" not in argv  # nothing of the host is writable
    assert all(
        path.startswith(("/usr", "/bin", "/sbin", "/lib", "/etc/ld.so", "/etc/localtime", "/opt/py"))
        for path in binds
    )
    assert "/" not in binds and not any(
        path.startswith(("/home", "/root", "/tmp", "/work")) for path in binds
    )
    assert argv[-2:] == ["--remount-ro", "/"]
    tmpfs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--tmpfs"]
    assert tmpfs == ["/tmp", jail.SANDBOX_HOME]
    assert argv.count("--size") == 2 and str(16 << 20) in argv
    judge = jail.bwrap_argv("bwrap", jail.JUDGE, [], 1 << 20)
    assert [judge[i + 1] for i, arg in enumerate(judge) if arg == "--tmpfs"] == ["/tmp"]


def test_the_interpreter_is_mounted_only_when_it_lives_outside_the_system():
    assert interpreter_mounts("/usr/bin/python3") == ()
    if not os.path.realpath(sys.executable).startswith("/usr/"):
        assert interpreter_mounts(sys.executable) == (os.path.realpath(sys.base_prefix),)


def test_without_bubblewrap_the_sandbox_refuses_and_names_the_way_out():
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap.*--unsafe-no-sandbox"):
        choose_backend(SandboxSettings(bwrap="no-such-bwrap-here"))
    assert choose_backend(SandboxSettings(bwrap="", allow_unsafe=True)).kind == "none"


def test_uid_slots_are_unique_while_taken_and_reused_last():
    pool = jail.UidPool()
    taken = [pool.take(1000) for _ in range(jail.UidPool.SLOTS)]
    uids = [uid for _, pair in taken for uid in pair.values()]
    assert len(set(uids)) == 2 * jail.UidPool.SLOTS and min(uids) >= 1000
    with pytest.raises(RuntimeError, match="in flight"):
        pool.take(1000)
    pool.give_back(taken[5][0])
    assert pool.take(1000) == taken[5]
