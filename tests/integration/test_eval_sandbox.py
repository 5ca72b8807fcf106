"""The sandbox runs the real HumanEval tests, cannot be lied to, and contains hostile programs.

The hostile-program suite runs every attack twice: in this process (as root in CI, where each
sandbox gets a throwaway uid) and as an unprivileged uid (a fresh one, through a copy of the
sandbox modules and a plain interpreter; bubblewrap then relies on unprivileged user
namespaces). Each attack is judged right before an honest program under the same limits: the
attack must fail, the honest program must pass, and the host must show no trace of it (planted
secrets unread, canaries intact, no connection at the test's listeners, no process left).
Limits are tight (2 s wall, 1 s CPU, 256 MiB) so the loops and bombs end quickly.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import stat
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pytest

from training.evaluation import jail
from training.evaluation.problems import Problem, load_problems, submission
from training.evaluation.sandbox import (
    SandboxLimits,
    SandboxSettings,
    SandboxUnavailable,
    Submission,
    choose_backend,
    run_submission,
    run_submissions,
)
from training.evaluation.scoring import score_completions

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TIGHT = SandboxLimits(
    wall_seconds=2,
    cpu_seconds=1,
    memory_mb=256,
    file_mb=1,
    tmpfs_mb=16,
    max_processes=8,
    output_bytes=100_000,
)
# Passes only when the completion returns 1; every attack returns 1 only if it succeeded.
PROBE = Problem("Probe/0", "def probe():\n", "def check(candidate):\n    assert candidate() == 1\n", "probe")
HONEST = submission(PROBE, "    return 1\n")
TOKEN = secrets.token_hex(8)
SECRETS = {
    "ssh": f"SSH-KEY-{TOKEN}",
    "lake": f"LAKE-ROW-{TOKEN}",
    "checkpoint": f"WEIGHTS-{TOKEN}",
    "env": f"ENV-SECRET-{TOKEN}",
}
UNIX_SOCKET = f"codemill-test-{TOKEN}"  # an abstract unix socket name
EVALUATOR_PID = "__EVALUATOR_PID__"  # replaced by the pid of the process that runs the evaluator
UNPRIVILEGED_UID = 1_400_000_000 + os.getpid() % 100_000


def bwrap_installed() -> bool:
    return shutil.which("bwrap") is not None


needs_bwrap = pytest.mark.skipif(not bwrap_installed(), reason="bubblewrap is not installed")


# --- the world the attacks aim at ----------------------------------------------------------------


@dataclass
class World:
    root: Path
    home: Path
    lake: Path
    checkpoints: Path
    public: Path  # world-writable: only the sandbox keeps programs out
    tmp: Path  # the evaluator's temp directory: the "scratch parent"
    tcp: socket.socket
    udp: socket.socket
    unix: socket.socket

    @property
    def files(self) -> dict[str, Path]:
        return {
            "ssh": self.home / ".ssh" / "id_rsa",
            "lake": self.lake / "gold" / "training_corpus" / "part-00000.parquet",
            "checkpoint": self.checkpoints / "run-1" / "model.safetensors",
        }

    def untouched(self) -> list[str]:
        """What an attack changed on the host (empty when contained)."""
        problems = []
        canary = self.public / "canary.txt"
        if not canary.is_file() or canary.read_text() != "still here":
            problems.append("canary changed or deleted")
        if sorted(p.name for p in self.public.iterdir()) != ["canary.txt"]:
            problems.append(f"public holds {sorted(p.name for p in self.public.iterdir())}")
        if not (self.tmp / "keep.txt").is_file():
            problems.append("the evaluator's temp directory was emptied")
        for name, path in self.files.items():
            if not path.is_file() or path.read_text() != SECRETS[name]:
                problems.append(f"{name} secret changed")
        for kind, server in (("tcp", self.tcp), ("unix", self.unix)):
            try:
                server.accept()[0].close()
                problems.append(f"a {kind} connection arrived")
            except BlockingIOError:
                pass
        try:
            self.udp.recvfrom(65536)
            problems.append("a udp datagram arrived")
        except BlockingIOError:
            pass
        return problems


def _open_tree(path: Path, mode: int) -> None:
    for folder, _, files in os.walk(path):
        os.chmod(folder, mode)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644 if mode == 0o755 else 0o666)


@pytest.fixture(scope="module")
def world():
    """Secrets, canaries and listeners that any uid on the host could reach without a sandbox."""
    root = Path(tempfile.mkdtemp(prefix="codemill-hostile-"))
    w = World(
        root, root / "home", root / "lake", root / "checkpoints", root / "public", root / "tmp", *_servers()
    )
    for name, path in w.files.items():
        path.parent.mkdir(parents=True)
        path.write_text(SECRETS[name])
    w.public.mkdir()
    (w.public / "canary.txt").write_text("still here")
    w.tmp.mkdir()
    (w.tmp / "keep.txt").write_text("keep")
    _open_tree(root, 0o755)
    _open_tree(w.public, 0o777)
    _open_tree(w.tmp, 0o777)
    yield w
    for server in (w.tcp, w.udp, w.unix):
        server.close()
    shutil.rmtree(root, ignore_errors=True)


def _servers() -> tuple[socket.socket, socket.socket, socket.socket]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX)
    unix.bind("\0" + UNIX_SOCKET)
    unix.listen(8)
    for server in (tcp, udp, unix):
        server.setblocking(False)
    return tcp, udp, unix


# --- the attacks ---------------------------------------------------------------------------------

# name -> (completion of `def probe():`, words one of which the verdict must contain).
# Attacks whose success the program cannot see for itself (a datagram sent, a tree deleted
# that may merely be invisible) return 0; the host-side checks judge those.
ATTACKS: dict[str, tuple[str, tuple[str, ...]]] = {
    # Lies about the verdict.
    "write passed to every descriptor, exit 0": (
        "    import os\n    for fd in range(64):\n        try:\n            os.write(fd, b'passed\\n')\n"
        "        except OSError:\n            pass\n    os._exit(0)\n",
        ("",),
    ),
    "stdout and stderr markers, exit 0": (
        "    import os, sys\n    print('passed'); print('passed', file=sys.stderr)\n"
        "    sys.stdout.flush(); sys.stderr.flush()\n    os._exit(0)\n",
        ("",),
    ),
    "sys.exit(0) before the tests": ("    return 0\nimport sys\nsys.exit(0)\n", ("does not load",)),
    "os._exit(0) before the tests": ("    return 0\nimport os\nos._exit(0)\n", ("ended before the tests",)),
    "atexit handler that says passed": (
        "    return 0\nimport atexit, os\n"
        "atexit.register(lambda: [os.write(fd, b'passed') for fd in (1, 2)])\n",
        ("",),
    ),
    "AssertionError replaced": (
        "    return 0\nimport builtins\n"
        "class AssertionError(Exception):\n    pass\nbuiltins.AssertionError = AssertionError\n",
        ("AssertionError",),
    ),
    "check redefined": (
        "    return 0\nimport builtins\ndef check(candidate):\n    return None\nbuiltins.check = check\n",
        ("",),
    ),
    "object equal to everything": (
        "    class Liar:\n        def __eq__(self, other):\n            return True\n    return Liar()\n",
        ("cannot cross",),
    ),
    "int whose == always holds": (
        "    class Liar(int):\n        def __eq__(self, other):\n            return True\n    return Liar(0)\n",
        ("",),
    ),
    "forged protocol frames, then exit": (
        "    import os, struct, json\n    for message in ({'loaded': True}, {'value': 1}, {'verdict': 'passed'}):\n"
        "        body = json.dumps(message).encode()\n        for fd in range(3, 64):\n"
        "            try:\n                os.write(fd, struct.pack('>I', len(body) + 9) + body)\n"
        "            except OSError:\n                pass\n    os._exit(0)\n",
        ("",),
    ),
    # Resources.
    "fork bomb": (
        "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
        ("",),
    ),
    "memory hog": (
        "    hog = []\n    while True:\n        hog.append(bytearray(32 * 1024 * 1024))\n",
        ("MemoryError",),
    ),
    "infinite loop": ("    while True:\n        pass\n", ("cpu limit exceeded", "timed out")),
    "sleep forever": ("    import time\n    time.sleep(3600)\n", ("timed out",)),
    "huge output": ("    while True:\n        print('x' * 65536)\n", ("output limit exceeded",)),
    "fill the scratch tmpfs": (
        "    i = 0\n    while True:\n        with open(f'f{i}', 'wb') as out:\n"
        "            out.write(b'x' * 1000000)\n        i += 1\n",
        ("",),
    ),
    # The file system.
    "read ~/.ssh": ("    return int(open($ssh).read() == $ssh_secret)\n", ("",)),
    "read the lake": ("    return int(open($lake).read() == $lake_secret)\n", ("",)),
    "read the checkpoint directory": (
        "    return int(open($checkpoint).read() == $checkpoint_secret)\n",
        ("",),
    ),
    "list /root and /home": (
        "    import os\n    seen = 0\n    for path in ('/root', '/home'):\n        try:\n"
        "            seen += bool(os.listdir(path))\n        except OSError:\n            pass\n"
        "    return int(seen > 0)\n",
        ("",),
    ),
    "read the evaluator's environment": (
        "    import glob\n    for path in glob.glob('/proc/*/environ'):\n        try:\n"
        "            if $env_secret.encode() in open(path, 'rb').read():\n                return 1\n"
        "        except OSError:\n            pass\n    return 0\n",
        ("",),
    ),
    "write outside scratch": (
        "    done = 0\n    for path in ($public_new, '/usr/pwned', '/etc/pwned', '/pwned'):\n        try:\n"
        "            open(path, 'w').write('x')\n            done = 1\n        except OSError:\n            pass\n"
        "    return done\n",
        ("",),
    ),
    "delete a file outside": ("    import os\n    os.remove($canary)\n    return 1\n", ("",)),
    "rm -rf the scratch parent": (
        # The parent of a sandbox's scratch is its own root (skipped: a broken sandbox must not
        # cost the host its files); unsandboxed it is the evaluator's temp directory, $tmp.
        "    import os, shutil\n    parent = os.path.dirname(os.getcwd())\n"
        "    for path in ($tmp, parent, '/tmp', os.getcwd()):\n"
        "        if path != '/':\n            shutil.rmtree(path, ignore_errors=True)\n"
        "    return 0\n",
        ("",),
    ),
    # The network.
    "connect to the test's tcp port": (
        "    import socket\n    socket.create_connection(('127.0.0.1', $tcp_port), timeout=1)\n    return 1\n",
        ("",),
    ),
    "send to the test's udp port": (
        "    import socket\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "    s.sendto(b'hello', ('127.0.0.1', $udp_port))\n    return 0\n",
        ("",),
    ),
    "connect to the test's unix socket": (
        "    import socket\n    s = socket.socket(socket.AF_UNIX)\n    s.connect('\\0' + $unix)\n    return 1\n",
        ("",),
    ),
    "dns lookup": ("    import socket\n    socket.getaddrinfo('localhost', 80)\n    return 1\n", ("",)),
    "open a socket to the internet": (
        "    import socket\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n    return 1\n",
        ("",),
    ),
    # The processes around it.
    "kill the parent and the evaluator": (
        "    import os, signal\n    hit = 0\n    for pid in (os.getppid(), 1, $evaluator_pid):\n        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n            hit += pid == $evaluator_pid\n"
        "        except OSError:\n            pass\n    try:\n        os.kill(-1, signal.SIGKILL)\n"
        "    except OSError:\n        pass\n    return hit\n",
        ("",),
    ),
    "new user namespace": (
        "    import ctypes\n    return int(ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0)\n",
        ("",),
    ),
}


def attack_program(name: str, world: World) -> Submission:
    code, _ = ATTACKS[name]
    paths = {
        **world.files,
        "public_new": world.public / "pwned.txt",
        "canary": world.public / "canary.txt",
        "tmp": world.tmp,
        "keep": world.tmp / "keep.txt",
    }
    values = {
        **{key: repr(str(path)) for key, path in paths.items()},
        **{f"{key}_secret": repr(value) for key, value in SECRETS.items()},
        "tcp_port": world.tcp.getsockname()[1],
        "udp_port": world.udp.getsockname()[1],
        "unix": repr(UNIX_SOCKET),
        "evaluator_pid": EVALUATOR_PID,
    }
    return submission(PROBE, string.Template(code).substitute(values))


# --- the two legs --------------------------------------------------------------------------------


def run_as_root(programs: list[Submission], world: World, monkeypatch) -> list[dict]:
    programs = [replace(p, program=p.program.replace(EVALUATOR_PID, str(os.getpid()))) for p in programs]
    monkeypatch.setenv("CODEMILL_TEST_SECRET", SECRETS["env"])
    monkeypatch.setenv("HOME", str(world.home))
    monkeypatch.setenv("TMPDIR", str(world.tmp))
    settings = SandboxSettings(limits=TIGHT, workers=1)
    return [asdict(result) for result in run_submissions(programs, settings)]


def sandbox_tree(folder: Path) -> Path:
    """A copy of the sandbox modules an unprivileged uid can read (the checkout may be under /root)."""
    tree = folder / "tree"
    target = tree / "training" / "evaluation"
    target.mkdir(parents=True)
    shutil.copy(REPO / "training" / "__init__.py", tree / "training")
    for name in ("__init__.py", "sandbox.py", "jail.py", "inside.py"):
        shutil.copy(REPO / "training" / "evaluation" / name, target)
    shutil.copy(REPO / "tests" / "fixtures" / "sandbox_driver.py", tree)
    _open_tree(tree, 0o755)
    return tree


def plain_python() -> str:
    """An interpreter any uid can execute (a pyenv under /root is not one)."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        path = Path(candidate).resolve()
        if (
            path.is_file()
            and all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)
            and (path.stat().st_mode & stat.S_IXOTH)
        ):
            return str(path)
    pytest.skip("no Python interpreter that an unprivileged uid can execute")


def run_unprivileged(programs: list[Submission], world: World) -> list[dict]:
    """The evaluator as a fresh unprivileged uid (when we are root) or as ourselves (when not)."""
    tree = sandbox_tree(world.root / f"run-{secrets.token_hex(4)}")
    request = {"submissions": [asdict(p) for p in programs], "limits": asdict(TIGHT), "workers": 1}
    identity = {}
    if os.geteuid() == 0:
        identity = {"user": UNPRIVILEGED_UID, "group": UNPRIVILEGED_UID, "extra_groups": []}
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(world.home),
        "TMPDIR": str(world.tmp),
        "CODEMILL_TEST_SECRET": SECRETS["env"],
    }
    driver = subprocess.Popen(
        [plain_python(), "-I", str(tree / "sandbox_driver.py"), str(tree)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(world.root),
        env=env,
        text=True,
        **identity,
    )
    stdout, stderr = driver.communicate(json.dumps(request), timeout=120)
    shutil.rmtree(tree.parent, ignore_errors=True)
    assert driver.returncode == 0, stderr
    answer = json.loads(stdout)
    assert "unavailable" not in answer, answer.get("unavailable")
    return answer["results"]


def processes_of(uids: range | list[int], settle_seconds: float = 5.0) -> list[int]:
    """Live pids owned by the given uids; killed ones get a moment to die. Zombies do not count:
    bubblewrap's init outlives its monitor and is reaped by the host's init when it gets to it."""
    deadline = time.monotonic() + settle_seconds
    while True:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    owner = os.stat(f"/proc/{entry}").st_uid
                    state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                except (OSError, IndexError):
                    continue
                if owner in uids and state != "Z":
                    pids.append(int(entry))
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def our_sandbox_uids() -> range:
    base = SandboxSettings().uid_base + 2 * os.getpid() * jail.UidPool.SLOTS
    return range(base, base + 2 * jail.UidPool.SLOTS)


LEGS = ["as-root", "unprivileged"]


@needs_bwrap
@pytest.mark.timeout(60)
@pytest.mark.parametrize("attack", list(ATTACKS))
@pytest.mark.parametrize("leg", LEGS)
def test_hostile_program_is_contained_and_fails_and_the_next_one_passes(leg, attack, world, monkeypatch):
    if leg == "as-root" and os.geteuid() != 0:
        pytest.skip("not root: the unprivileged leg covers this user")
    program = attack_program(attack, world)
    if leg == "as-root":
        first, second = run_as_root([program, HONEST], world, monkeypatch)
        leftovers = processes_of(our_sandbox_uids())
    else:
        first, second = run_unprivileged([program, HONEST], world)
        leftovers = processes_of([UNPRIVILEGED_UID]) if os.geteuid() == 0 else []

    _, expected = ATTACKS[attack]
    assert not first["passed"] and first["result"] != "passed", first
    assert any(words in first["result"] for words in expected), first
    assert first["isolation"]["sandbox"] == "bwrap", first
    assert second["passed"], second  # the evaluator went on, and an honest program still passes
    assert world.untouched() == []
    assert leftovers == []
    for secret in SECRETS.values():
        assert secret not in first["output_tail"]


@needs_bwrap
def test_the_reported_attack_no_longer_passes_humaneval_0():
    """Issue 13: `passed` on fd 3 plus os._exit(0) scored as passing HumanEval/0."""
    problem = load_problems("humaneval")[0]
    attack = "    import os\n    os.write(3, b'passed')\n    os._exit(0)\n"
    score = score_completions("humaneval", [problem], {problem.task_id: [problem.canonical_solution, attack]})
    assert score.outcomes[0].results[0] == "passed"
    assert not score.outcomes[0].results[1].startswith("passed")
    assert score.pass_at_k == {1: 0.5}
    assert score.sandbox == "bwrap"


@needs_bwrap
@pytest.mark.timeout(180)  # ~12 s on two idle cores: 328 sandboxed runs on 2 workers
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


@needs_bwrap
def test_program_sees_a_private_empty_world():
    program = (
        "def probe():\n"
        "    import os, sys\n"
        "    assert sorted(p for p in os.listdir('/proc') if p.isdigit()) == ['1', '2'], os.listdir('/proc')\n"
        "    assert os.getcwd() == '/sandbox' and os.listdir('.') == []\n"
        "    assert sorted(os.listdir('/')) == ['bin', 'dev', 'etc', 'lib', 'lib64', 'proc', 'sandbox', 'sbin',"
        " 'tmp', 'usr'], os.listdir('/')\n"
        "    assert set(os.environ) <= {'PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_CTYPE', 'PWD'}, sorted(os.environ)\n"
        "    assert os.getuid() != 0 and os.getuid() == os.geteuid()\n"
        "    assert 'NoNewPrivs:\\t1' in open('/proc/self/status').read()\n"
        # stdio, the call and reply pipes (named in argv), and the one listdir itself opens
        "    extra = {int(fd) for fd in os.listdir('/proc/self/fd')} - {0, 1, 2, *map(int, sys.argv[2:])}\n"
        "    assert len(extra) == 1, extra\n"
        "    return 1\n"
    )
    result = run_submission(Submission(program, "probe", PROBE.test), SandboxSettings(limits=TIGHT))
    assert result.passed, result
    if os.geteuid() == 0:
        assert set(result.isolation["uids"].values()) <= set(our_sandbox_uids())


def test_without_a_sandbox_generated_code_is_refused_unless_allowed():
    settings = SandboxSettings(limits=TIGHT, bwrap="/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable, match="unsafe-no-sandbox"):
        run_submissions([HONEST], settings)
    unsafe = SandboxSettings(limits=TIGHT, bwrap="/nonexistent/bwrap", allow_unsafe=True)
    assert choose_backend(unsafe).kind == "none"
    lie = submission(PROBE, "    import os\n    os.write(3, b'passed')\n    os._exit(0)\n")
    honest, liar = run_submissions([HONEST, lie], unsafe)
    assert honest.passed and honest.sandbox == "none"
    assert not liar.passed and liar.sandbox == "none"  # the tests still run apart from the program


@needs_bwrap
def test_a_sandbox_that_cannot_start_is_a_sandbox_error_not_a_pass():
    working = choose_backend(SandboxSettings())
    broken = replace(working, mounts=("/nonexistent-interpreter-prefix",))
    result = run_submission(HONEST, SandboxSettings(limits=TIGHT), broken)
    assert not result.passed
    assert result.result.startswith("sandbox error") and "nonexistent-interpreter-prefix" in result.result
    gone = run_submission(HONEST, SandboxSettings(limits=TIGHT), replace(working, bwrap="/nonexistent/bwrap"))
    assert not gone.passed and gone.result.startswith("sandbox error: cannot start a sandbox"), gone
