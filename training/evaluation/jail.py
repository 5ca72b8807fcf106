"""Judge ONE submission, with the untrusted code and the tests in two sandboxes of their own.

Called by :mod:`sandbox` from a worker thread; it only starts processes and waits on pipes,
so no generated code ever runs in the evaluator's process (or in the tests' process).
Per submission it starts two sandboxes:

* the **candidate** (untrusted: the prompt plus the model's completion), which only answers
  calls of the entry point;
* the **judge** (the benchmark's tests), which calls the candidate through a pipe and alone
  holds the pipe its verdict comes back on. A verdict counts only if it carries the nonce
  drawn for this run and handed to the judge alone (never to the candidate), written after the
  tests returned.

With the ``bwrap`` backend each sandbox is a bubblewrap container: new user, PID, network
(loopback only), IPC, UTS and cgroup namespaces, no further user namespaces, a read-only view
of the system directories and the interpreter only (no /home, /root, lake, checkpoints or
models: they are simply not mounted), private size-capped tmpfs for /tmp and the scratch
directory, a clean environment, no inherited descriptors but its pipes, and rlimits (set by
the sandboxed code before anything untrusted runs). As root each sandbox also runs under a
throwaway uid of its own, so even outside the namespaces its processes own nothing. Killing
bubblewrap kills the whole PID namespace.

The ``none`` backend (``--unsafe-no-sandbox`` only) keeps the two-process judge, rlimits, a
scratch directory and, as root, throwaway uids, but shares the host's file system, network
and process table: it guarantees neither containment nor an honest verdict.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

INSIDE = Path(__file__).with_name("inside.py")
BWRAP, NONE = "bwrap", "none"
CANDIDATE, JUDGE = "candidate", "judge"
SANDBOX_HOME = "/sandbox"
# Directories of a Linux system an interpreter needs; with merged /usr most are symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
OUTPUT_TAIL_BYTES = 2000
GONE = "ended before the tests finished"  # the judge's words for a candidate that died


def bwrap_argv(bwrap: str, role: str, mounts: list[str], tmpfs_bytes: int) -> list[str]:
    """The bubblewrap command line that encloses one role (everything before ``--``)."""
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    argv += ["--new-session", "--hostname", "sandbox", "--clearenv"]
    home = SANDBOX_HOME if role == CANDIDATE else "/tmp"
    for name, value in {**CLEAN_ENV, "HOME": home, "TMPDIR": "/tmp"}.items():
        argv += ["--setenv", name, value]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        argv += ["--ro-bind-try", path, path]
    for path in mounts:  # the interpreter's own installation when it lives outside /usr
        argv += ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmpfs_bytes), "--tmpfs", "/tmp"]
    if role == CANDIDATE:
        argv += ["--size", str(tmpfs_bytes), "--tmpfs", SANDBOX_HOME]
    # Last: the root of the container itself becomes read-only (the tmpfs mounts stay writable).
    return argv + ["--chdir", home, "--remount-ro", "/"]


class UidPool:
    """Pairs of throwaway uids, one pair per run in flight in this process (root only).

    ``base + 2 * (pid * SLOTS + slot)`` is unique among all evaluators on the machine while
    they live; a slot returns to the pool when its run has been torn down.
    """

    SLOTS = 128

    def __init__(self):
        self._free = list(range(self.SLOTS))
        self._lock = threading.Lock()

    def take(self, base: int) -> tuple[int, dict[str, int]]:
        with self._lock:
            if not self._free:
                raise RuntimeError(f"more than {self.SLOTS} sandboxes in flight")
            slot = self._free.pop(0)
        first = base + 2 * (os.getpid() * self.SLOTS + slot)
        return slot, {CANDIDATE: first, JUDGE: first + 1}

    def give_back(self, slot: int) -> None:
        with self._lock:
            self._free.append(slot)


UIDS = UidPool()


def _count_processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return count


def _memfd(text: str) -> int:
    """A descriptor whose content is ``text``: the setup a sandboxed process reads on stdin."""
    fd = os.memfd_create("setup")
    data = text.encode()
    while data:
        data = data[os.write(fd, data) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Child:
    """A started sandbox: its process group, and its exit status once reaped."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.status: int | None = None  # as os.waitstatus_to_exitcode gives it

    def poll(self, timeout: float = 0.0) -> int | None:
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, raw = os.waitpid(self.process.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(raw)
                self.process.returncode = self.status  # reaped here, not by Popen
            elif time.monotonic() >= deadline:
                break
            else:
                time.sleep(0.005)
        return self.status

    def kill(self) -> None:
        """SIGKILL its process group; bubblewrap's --die-with-parent takes the namespace down."""
        if self.status is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.poll(timeout=30)


class Launch:
    """The two sandboxes of one run and the pipes between them and us."""

    def __init__(self, request: dict):
        self.request = request
        self.limits = request["limits"]
        self.backend = request["backend"]
        self.nonce = secrets.token_hex(16)
        self.slot, self.uids = None, {}
        if os.geteuid() == 0 and request["uid_base"]:
            self.slot, self.uids = UIDS.take(request["uid_base"])
        self.scratch = None
        if self.backend == NONE:
            self.scratch = tempfile.mkdtemp(prefix="codemill-unsafe-")
            if self.uids:
                os.chown(self.scratch, self.uids[CANDIDATE], self.uids[CANDIDATE])
        self.source = INSIDE.read_text(encoding="utf-8")

    def _nproc(self) -> int:
        wanted = self.limits["max_processes"]
        if self.backend == BWRAP:
            return wanted + 1  # bubblewrap's init is counted in the namespace too
        if self.uids:
            return wanted
        # Same uid as the evaluator: the kernel counts everything that uid already runs.
        return wanted + _count_processes_of(os.getuid())

    def spawn(self, role: str, setup: dict, fds: list[int], output_fd: int) -> Child:
        setup = {**setup, "limits": {**self.limits, "nproc": self._nproc()}}
        inner = [self.request["python"], "-I", "-c", self.source, role, *map(str, fds)]
        if self.backend == BWRAP:
            tmpfs = self.limits["tmpfs_mb"] * 1024 * 1024
            argv = bwrap_argv(self.request["bwrap"], role, self.request["mounts"], tmpfs) + ["--", *inner]
            cwd, env = "/", dict(CLEAN_ENV)
        else:
            argv, cwd = inner, self.scratch if role == CANDIDATE else "/"
            env = {**CLEAN_ENV, "HOME": cwd, "TMPDIR": cwd}
        identity = {}
        if role in self.uids:
            identity = {"user": self.uids[role], "group": self.uids[role], "extra_groups": []}
        setup_fd = _memfd(json.dumps(setup))
        try:
            return Child(
                subprocess.Popen(
                    argv,
                    stdin=setup_fd,
                    stdout=output_fd,
                    stderr=output_fd,
                    pass_fds=fds,  # and nothing else: every other descriptor is closed
                    cwd=cwd,
                    env=env,
                    start_new_session=True,  # its own process group, killed as one
                    **identity,
                )
            )
        finally:
            os.close(setup_fd)

    def run(self) -> dict:
        calls_r, calls_w = os.pipe()
        replies_r, replies_w = os.pipe()
        verdict_r, verdict_w = os.pipe()
        output_r, output_w = os.pipe()
        judge_out_r, judge_out_w = os.pipe()
        children: list[Child] = []
        try:
            try:
                children.append(
                    self.spawn(CANDIDATE, self._candidate_setup(), [calls_r, replies_w], output_w)
                )
                children.append(
                    self.spawn(JUDGE, self._judge_setup(), [verdict_w, calls_w, replies_r], judge_out_w)
                )
            finally:  # the children hold their ends now; ours would keep the pipes from closing
                for fd in (calls_r, calls_w, replies_r, replies_w, verdict_w, output_w, judge_out_w):
                    os.close(fd)
        except OSError as err:
            for fd in (output_r, judge_out_r, verdict_r):
                os.close(fd)
            for child in children:
                child.kill()
            self._clean_up()
            return self._summary(f"sandbox error: cannot start a sandbox: {err}", b"")
        try:
            watch = Watch(output_r, judge_out_r, verdict_r, self.limits)
            watch.run()
            candidate, judge = children
            # Statuses of processes that ended on their own name the limit they hit.
            candidate.poll(timeout=0.5 if GONE.encode() in watch.verdict else 0.1)
            judge.poll(timeout=0 if watch.stopped else 0.5)
            for child in children:
                child.kill()
            return self._summary(self.verdict(watch, candidate, judge), watch.output)
        finally:
            for child in children:
                child.kill()
            self._clean_up()

    def _candidate_setup(self) -> dict:
        submission = self.request["submission"]
        return {"program": submission["program"], "entry_point": submission["entry_point"]}

    def _judge_setup(self) -> dict:
        submission = self.request["submission"]
        return {
            "nonce": self.nonce,  # the judge's alone: never in the candidate's setup
            "prelude": submission["prelude"],
            "test": submission["test"],
            "entry_point": submission["entry_point"],
            "shares_host": self.backend == NONE,
        }

    def _clean_up(self) -> None:
        if self.backend == NONE:
            for uid in self.uids.values():
                _kill_uid(uid)  # without a PID namespace a process may have left its group
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self.slot is not None:
            UIDS.give_back(self.slot)

    def verdict(self, watch: Watch, candidate: Child, judge: Child) -> str:
        """The verdict: "passed" only in the judge's own words with this run's nonce; else why not."""
        said = watch.verdict.decode("utf-8", "replace")
        if watch.stopped:
            return watch.stopped
        if said == f"{self.nonce} passed":
            return "passed"
        if not said.startswith(f"{self.nonce} failed"):
            tail = watch.judge_output.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            return f"sandbox error: the tests gave no verdict (status {judge.status}) {tail[0][:300]}"
        verdict = said[len(self.nonce) + 1 :]
        if GONE in verdict and candidate.status is not None:
            verdict = _death_verdict(candidate.status, self.backend) or verdict
        if GONE in verdict and watch.output.startswith(b"bwrap: "):
            # bubblewrap could not build the candidate's container (the program never ran).
            verdict = f"sandbox error: {watch.output.decode('utf-8', 'replace').splitlines()[0][:300]}"
        return verdict

    def _summary(self, verdict: str, output: bytes) -> dict:
        return {
            "passed": verdict == "passed",
            "result": verdict,
            "output_tail": output.decode("utf-8", "replace")[-500:],
            "isolation": {
                "sandbox": self.backend,
                "uids": self.uids or None,
                "network": "loopback-only namespace" if self.backend == BWRAP else "host",
                "filesystem": "system dirs read-only, private tmpfs" if self.backend == BWRAP else "host",
            },
        }


class Watch:
    """Collect output and the verdict until the judge is done, the wall clock runs out, or the
    program prints too much."""

    def __init__(self, output: int, judge_output: int, verdict: int, limits: dict):
        self.names = {output: "output", judge_output: "judge_output", verdict: "verdict"}
        self.verdict_fd = verdict
        self.limits = limits
        self.output = self.judge_output = self.verdict = b""
        self.output_bytes = 0
        self.stopped = ""  # why we stopped early, if we did

    def run(self) -> None:
        deadline = time.monotonic() + self.limits["wall_seconds"]
        open_fds = list(self.names)
        try:
            while self.verdict_fd in open_fds:  # it closes when the judge's sandbox has ended
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stopped = "timed out"
                    return
                ready, _, _ = select.select(open_fds, [], [], remaining)
                for fd in ready:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        open_fds.remove(fd)
                    else:
                        self._keep(self.names[fd], chunk)
                if self.output_bytes > self.limits["output_bytes"]:
                    self.stopped = "output limit exceeded"
                    return
        finally:
            for fd in self.names:
                os.close(fd)

    def _keep(self, name: str, chunk: bytes) -> None:
        if name == "output":
            self.output_bytes += len(chunk)
            self.output = (self.output + chunk)[-OUTPUT_TAIL_BYTES:]
        elif name == "judge_output":
            self.judge_output = (self.judge_output + chunk)[-OUTPUT_TAIL_BYTES:]
        else:
            self.verdict = (self.verdict + chunk)[:4000]


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of a throwaway uid, even those that left their process group.

    ``kill -KILL -1`` run as ``uid`` reaches exactly that uid's processes; repeated because a
    process may be forking while a round lands.
    """
    for _ in range(5):
        if not _count_processes_of(uid):
            return
        subprocess.run(
            ["kill", "-KILL", "-1"], user=uid, group=uid, extra_groups=[], env=CLEAN_ENV, check=False
        )
        time.sleep(0.01)


def _death_verdict(status: int, backend: str) -> str:
    """Name the limit that killed the candidate, when a signal did."""
    if backend == BWRAP:
        sig = status - 128 if status > 128 else 0  # bubblewrap exits with 128 + the signal
    else:
        sig = -status if status < 0 else 0
    if not sig:
        return ""
    if sig == signal.SIGXCPU:
        return "cpu limit exceeded"
    if sig == signal.SIGXFSZ:
        return "file size limit exceeded"
    try:
        return f"failed: killed by signal {signal.Signals(sig).name}"
    except ValueError:
        return f"failed: killed by signal {sig}"


def judge(request: dict) -> dict:
    """Judge ``request["submission"]`` under ``request["limits"]``; the result as a dict."""
    return Launch(request).run()
