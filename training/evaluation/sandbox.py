"""Run untrusted programs (model completions plus their tests) in isolated processes.

Every program goes to a fresh launcher process (:mod:`training.evaluation.jail`) that applies
namespaces, a throwaway uid and rlimits before it starts the interpreter; the evaluator only
waits on pipes, so generated code never runs in its process. Parallelism comes from a thread
pool whose threads do nothing but wait on their launcher.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

JAIL = Path(__file__).with_name("jail.py")
# Grace on top of the program's wall limit before the evaluator kills the launcher itself.
LAUNCHER_GRACE_SECONDS = 5.0


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
    # Each program runs as uid ``uid_base + launcher pid`` (root only); 0 keeps the caller's uid.
    uid_base: int = 1_500_000_000
    namespaces: bool = True


@dataclass(frozen=True)
class ExecutionResult:
    passed: bool
    result: str
    cpu_seconds: float = 0.0
    output_tail: str = ""
    isolation: dict = field(default_factory=dict)


def _executable_by_others(path: Path) -> bool:
    """True when a uid with no special rights can reach and run ``path`` (every parent is o+x)."""
    path = path.resolve()
    if not path.is_file() or not path.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def sandbox_python(settings: SandboxSettings) -> str:
    """The interpreter for untrusted code.

    With a throwaway uid the interpreter must be reachable by that uid; a virtualenv under
    /root is not, so fall back to the system Python (HumanEval tests need the stdlib only).
    """
    if settings.python:
        return settings.python
    current = Path(sys.executable).resolve()
    if os.geteuid() != 0 or not settings.uid_base or _executable_by_others(current):
        return str(current)
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if _executable_by_others(Path(candidate)):
            return candidate
    raise RuntimeError(
        f"no Python interpreter that an unprivileged uid can execute ({current} is not); "
        "set eval.sandbox_python or eval.sandbox_uid_base=0"
    )


def run_program(
    program: str, settings: SandboxSettings | None = None, python: str | None = None
) -> ExecutionResult:
    """Execute one program in its own sandbox and say whether it ran to its end."""
    settings = settings or SandboxSettings()
    workdir = tempfile.mkdtemp(prefix="codemill-sandbox-")
    request = {
        "program": program,
        "python": python or sandbox_python(settings),
        "limits": asdict(settings.limits),
        "uid_base": settings.uid_base,
        "namespaces": settings.namespaces,
        "workdir": workdir,
    }
    try:
        launcher = subprocess.Popen(
            [sys.executable, "-I", "-S", str(JAIL)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            start_new_session=True,  # a signal to the program's group can never reach us
        )
        try:
            stdout, stderr = launcher.communicate(
                json.dumps(request).encode(), timeout=settings.limits.wall_seconds + LAUNCHER_GRACE_SECONDS
            )
        except subprocess.TimeoutExpired:
            _kill_group(launcher.pid)
            launcher.communicate()
            return ExecutionResult(False, "timed out (launcher killed)")
        if launcher.returncode != 0 or not stdout:
            detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [
                f"status {launcher.returncode}"
            ]
            return ExecutionResult(False, f"sandbox error: {detail[0][:300]}")
        return ExecutionResult(**json.loads(stdout))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def run_programs(
    programs: Iterable[str],
    settings: SandboxSettings | None = None,
    on_result: Callable[[int, ExecutionResult], None] | None = None,
) -> list[ExecutionResult]:
    """Execute programs on ``settings.workers`` parallel sandboxes; results keep input order."""
    settings = settings or SandboxSettings()
    python = sandbox_python(settings)
    programs = list(programs)
    results: list[ExecutionResult | None] = [None] * len(programs)
    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
        futures = {
            pool.submit(run_program, program, settings, python): i for i, program in enumerate(programs)
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
