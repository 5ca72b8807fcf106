"""Judge untrusted completions against trusted tests, in sandboxes (the evaluator's side).

Every submission is judged by :mod:`training.evaluation.jail`, which starts the untrusted
program and the tests in two separate sandboxes; the evaluator only waits on pipes, so
generated code never runs in its process and never in the tests' process. Parallelism comes
from a thread pool whose threads do nothing but wait on their sandboxes.

Which sandbox: bubblewrap (``bwrap``, user namespaces; works as root and as any user where the
kernel allows unprivileged user namespaces), checked once per process by judging a known
program through it. Where it is missing or does not work, generated code is refused
(:class:`SandboxUnavailable`) unless the caller explicitly allows running it unsandboxed
(``--unsafe-no-sandbox``); every result records which sandbox judged it.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.evaluation import jail

log = logging.getLogger(__name__)

BWRAP, NONE = jail.BWRAP, jail.NONE
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/")


class SandboxUnavailable(RuntimeError):
    """No sandbox can run generated code here, and running it unsandboxed was not allowed."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_mb: int = 1024
    file_mb: int = 16
    tmpfs_mb: int = 64
    max_processes: int = 8
    output_bytes: int = 1_000_000


@dataclass(frozen=True)
class SandboxSettings:
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    workers: int = 2
    # Interpreter the untrusted program runs with; "" picks one the sandbox uid can execute.
    python: str = ""
    # As root, each sandbox runs as a throwaway uid from ``uid_base`` up; 0 keeps root's uid.
    uid_base: int = 1_500_000_000
    # The bubblewrap executable (a name on PATH or a path); "" = never use one.
    bwrap: str = "bwrap"
    # Run generated code without a sandbox when none works (results are marked sandbox=none).
    allow_unsafe: bool = False


@dataclass(frozen=True)
class Submission:
    """One thing to judge: untrusted code and the trusted tests of its entry point."""

    program: str  # untrusted: the prompt plus the completion
    entry_point: str  # the function the tests call
    test: str  # trusted: defines ``check(candidate)``
    prelude: str = ""  # trusted code the tests may use (the prompt's helper functions)


@dataclass(frozen=True)
class ExecutionResult:
    passed: bool
    result: str
    output_tail: str = ""
    isolation: dict = field(default_factory=dict)

    @property
    def sandbox(self) -> str:
        return self.isolation.get("sandbox", "")


@dataclass(frozen=True)
class Backend:
    kind: str  # "bwrap" or "none"
    bwrap: str = ""
    python: str = ""
    mounts: tuple[str, ...] = ()


def _executable_by_others(path: Path) -> bool:
    """True when a uid with no special rights can reach and run ``path`` (every parent is o+x)."""
    path = path.resolve()
    if not path.is_file() or not path.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def sandbox_python(settings: SandboxSettings) -> str:
    """The interpreter for untrusted code (a base interpreter, never a virtualenv's packages).

    As root the sandbox runs as a throwaway uid, which must be able to reach the interpreter;
    a pyenv under /root is out of its reach, so fall back to the system Python (HumanEval
    needs the standard library only).
    """
    if settings.python:
        return settings.python
    current = Path(sys.executable).resolve()
    if os.geteuid() != 0 or not settings.uid_base or _executable_by_others(current):
        return str(current)
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if _executable_by_others(Path(candidate)):
            return candidate
    raise SandboxUnavailable(
        f"no Python interpreter that an unprivileged uid can execute ({current} is not); "
        "set eval.sandbox_python or eval.sandbox_uid_base=0"
    )


def interpreter_mounts(python: str) -> tuple[str, ...]:
    """Directories to show the sandbox so that ``python`` runs: its installation prefix when it
    lives outside the system directories (a pyenv, /opt/python), nothing otherwise."""
    resolved = os.path.realpath(python)
    if resolved.startswith(SYSTEM_PREFIXES):
        return ()
    if resolved == os.path.realpath(sys.executable):
        return (os.path.realpath(sys.base_prefix),)
    return (str(Path(resolved).parent.parent),)  # <prefix>/bin/python3


# The probe: a submission only an honest, working sandbox judges as passing.
PROBE = Submission(
    "def probe():\n    return 41 + 1\n", "probe", "def check(candidate):\n    assert candidate() == 42\n"
)
_backends: dict[tuple, Backend] = {}
_backends_lock = threading.Lock()


def choose_backend(settings: SandboxSettings) -> Backend:
    """bubblewrap when it judges the probe correctly here; else ``none`` if allowed; else refuse."""
    python = sandbox_python(settings)
    key = (settings.bwrap, python, settings.uid_base, settings.allow_unsafe, os.geteuid())
    with _backends_lock:
        if key not in _backends:
            _backends[key] = _detect(settings, python)
        return _backends[key]


def _detect(settings: SandboxSettings, python: str) -> Backend:
    found = shutil.which(settings.bwrap) if settings.bwrap else None
    if found:
        backend = Backend(BWRAP, found, python, interpreter_mounts(python))
        probe = run_submission(PROBE, settings, backend)
        if probe.passed:
            return backend
        why = f"bubblewrap ({found}) cannot start a sandbox here: {probe.result}"
    else:
        why = f"bubblewrap is not installed (no {settings.bwrap or 'bwrap'!r} on PATH)"
    if settings.allow_unsafe:
        log.warning("%s; running generated code WITHOUT a sandbox (--unsafe-no-sandbox)", why)
        return Backend(NONE, "", python)
    raise SandboxUnavailable(
        f"refusing to run generated code: {why}. Install bubblewrap (Debian/Ubuntu: apt-get install "
        "bubblewrap; the kernel must allow unprivileged user namespaces) or, on a machine you can lose, "
        "pass --unsafe-no-sandbox (eval.unsafe_no_sandbox=true)"
    )


def run_submission(
    submission: Submission, settings: SandboxSettings | None = None, backend: Backend | None = None
) -> ExecutionResult:
    """Judge one submission in its own pair of sandboxes."""
    settings = settings or SandboxSettings()
    backend = backend or choose_backend(settings)
    request = {
        "submission": asdict(submission),
        "limits": asdict(settings.limits),
        "backend": backend.kind,
        "bwrap": backend.bwrap,
        "python": backend.python,
        "mounts": list(backend.mounts),
        "uid_base": settings.uid_base,
    }
    return ExecutionResult(**jail.judge(request))


def run_submissions(
    submissions: Iterable[Submission],
    settings: SandboxSettings | None = None,
    on_result: Callable[[int, ExecutionResult], None] | None = None,
) -> list[ExecutionResult]:
    """Judge submissions on ``settings.workers`` parallel sandboxes; results keep input order.

    Raises :class:`SandboxUnavailable` before running anything when no sandbox works here
    and ``settings.allow_unsafe`` is off.
    """
    settings = settings or SandboxSettings()
    backend = choose_backend(settings)
    submissions = list(submissions)
    results: list[ExecutionResult | None] = [None] * len(submissions)
    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
        futures = {
            pool.submit(run_submission, submission, settings, backend): i
            for i, submission in enumerate(submissions)
        }
        for future, index in _as_completed(futures):
            results[index] = future.result()
            if on_result is not None:
                on_result(index, results[index])
    return results  # type: ignore[return-value]


def _as_completed(futures: dict) -> Iterator:
    from concurrent.futures import as_completed

    for future in as_completed(futures):
        yield future, futures[future]
