"""The sandbox runs the real HumanEval tests and contains hostile completions.

Hostile programs run with tight limits (3 s wall, 256 MiB, 8 processes) so the whole file
stays well under a minute on two cores; every one must be scored as a failure while this
process, a canary file and the machine's process table are left untouched.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from training.evaluation.problems import Problem, load_problems
from training.evaluation.sandbox import SandboxLimits, SandboxSettings, run_program
from training.evaluation.scoring import score_completions

pytestmark = pytest.mark.integration

TIGHT = SandboxLimits(
    wall_seconds=3,
    cpu_seconds=3,
    memory_mb=256,
    file_mb=1,
    tmpfs_mb=16,
    max_processes=8,
    output_bytes=100_000,
)

# A problem whose test passes only if the completion returns 1 after its side effects.
PROBE = Problem("Probe/0", "def probe():\n", "def check(candidate):\n    assert candidate() == 1\n", "probe")


def sandbox_processes(uid_base: int, settle_seconds: float = 5.0) -> list[int]:
    """Pids of processes owned by a sandbox uid; killed ones get a moment to be reaped by init."""
    deadline = time.monotonic() + settle_seconds
    while True:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat(f"/proc/{entry}").st_uid >= uid_base:
                        pids.append(int(entry))
                except OSError:
                    pass
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def indent(code: str) -> str:
    return "".join(f"    {line}\n" for line in code.strip().splitlines())


@pytest.fixture()
def listener():
    """A TCP server on 127.0.0.1 that hostile code will try to reach (never any other address)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture()
def canary(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    # Readable by anyone, writable by its owner only. (Without a mount namespace a throwaway
    # uid is kept out by file permissions alone, so a world-writable folder would be fair game.)
    os.chmod(tmp_path, 0o755)
    os.chmod(folder, 0o755)
    path = folder / "canary.txt"
    path.write_text("still here")
    return path


def hostile_completions(canary_path, port: int) -> dict[str, str]:
    outside = canary_path.parent
    return {
        "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "infinite loop": "while True:\n    pass",
        "memory hog": "hog = []\nwhile True:\n    hog.append(bytearray(32 * 1024 * 1024))",
        "delete outside": f"import os\nos.remove({str(canary_path)!r})\nreturn 1",
        "write outside": f"open({str(outside / 'pwned.txt')!r}, 'w').write('x')\nreturn 1",
        "network": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn 1",
        "kill parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
        f"os.kill({os.getpid()}, signal.SIGKILL)\nos.kill(-1, signal.SIGKILL)\nreturn 1",
        "huge output": "while True:\n    print('x' * 65536)",
        "huge file": "with open('big.bin', 'wb') as out:\n    while True:\n        out.write(b'x' * 65536)",
        "early exit": "import os\nos._exit(0)",
    }


@pytest.mark.timeout(180)  # ~25 s on two idle cores: 328 sandboxed runs on 2 workers
def test_canonical_solutions_pass_and_stubs_fail_on_all_164_problems():
    problems = load_problems("humaneval")
    settings = SandboxSettings(workers=2)
    canonical = score_completions(
        "humaneval", problems, {p.task_id: [p.canonical_solution] for p in problems}, settings
    )
    stubs = score_completions("humaneval", problems, {p.task_id: ["    pass\n"] for p in problems}, settings)
    assert canonical.num_problems == stubs.num_problems == 164
    failed = [o for o in canonical.outcomes if o.num_correct != 1]
    assert not failed, failed[:3]
    assert canonical.pass_at_k == {1: 1.0}
    assert stubs.pass_at_k == {1: 0.0}
    assert all(o.results[0].startswith("failed") for o in stubs.outcomes)


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "rlimits-and-uid-only"])
def test_hostile_completions_are_contained_and_scored_as_failures(canary, listener, namespaces):
    if os.geteuid() != 0:
        pytest.skip("containment relies on a throwaway uid, which needs root")
    settings = SandboxSettings(limits=TIGHT, workers=2, namespaces=namespaces)
    attacks = hostile_completions(canary, listener.getsockname()[1])
    completions = {name: indent(code) for name, code in attacks.items()}
    problems = [Problem(name, PROBE.prompt, PROBE.test, PROBE.entry_point) for name in completions]
    started = time.monotonic()
    score = score_completions(
        "probe", problems, {name: [body] for name, body in completions.items()}, settings
    )

    verdicts = {o.task_id: o.results[0] for o in score.outcomes}
    assert all(not verdict.startswith("passed") for verdict in verdicts.values()), verdicts
    assert score.pass_at_k == {1: 0.0}
    # 10 programs, 2 workers, 3 s wall limit each: the loops were stopped by the limits.
    assert time.monotonic() - started < 90
    # The evaluator is alive (we are here), the canary is intact, nothing was written beside it.
    assert canary.read_text() == "still here"
    assert sorted(p.name for p in canary.parent.iterdir()) == ["canary.txt"]
    with pytest.raises(BlockingIOError):
        listener.accept()  # no connection ever arrived
    assert sandbox_processes(settings.uid_base) == []
    assert "output limit" in verdicts["huge output"] or "timed out" in verdicts["huge output"]
    assert "exited with status 0 before the tests finished" in verdicts["early exit"]


def test_a_good_completion_still_passes_under_the_same_limits():
    settings = SandboxSettings(limits=TIGHT)
    result = run_program("def probe():\n    return 1\n\n" + PROBE.test + "\ncheck(probe)\n", settings)
    assert result.passed, result
    if os.geteuid() == 0:
        assert result.isolation["uid"] >= settings.uid_base
        assert result.isolation["network_namespace"] and result.isolation["pid_namespace"]


def test_program_sees_a_private_empty_world():
    if os.geteuid() != 0:
        pytest.skip("namespaces need root")
    program = (
        "import os, socket\n"
        "assert os.getpid() == 1, os.getpid()\n"  # PID 1 of its own namespace
        "assert sorted(p for p in os.listdir('/proc') if p.isdigit()) == ['1']\n"
        "assert os.listdir('/tmp') == ['sandbox'] and os.getcwd() == '/tmp/sandbox'\n"
        "assert set(os.environ) <= {'PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_CTYPE'}, sorted(os.environ)\n"
        "assert os.getuid() != 0\n"
    )
    result = run_program(program, SandboxSettings(limits=TIGHT))
    assert result.passed, result
