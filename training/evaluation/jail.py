"""The sandbox launcher: runs ONE untrusted Python program under every limit we can impose.

This file is executed as its own process (``python -I -S jail.py``) by :mod:`sandbox`; it is
never imported by the evaluator, and it imports only the standard library. It reads one JSON
request on stdin and writes one JSON result on stdout.

Layers, each used when the kernel and our privileges allow it (we normally run as root):

* mount namespace: private tmpfs (size-capped) over /tmp, /var/tmp, /dev/shm and /run/lock,
  so the program's working directory and every world-writable place are throwaway and small;
* network namespace: the program sees only a down loopback, so even 127.0.0.1 is unreachable;
  without one, the socket constructors are replaced by functions that raise;
* PID namespace: the program is PID 1 of its own namespace, sees no other process (fresh /proc),
  and when it ends the kernel kills everything it forked;
* a throwaway unprivileged uid (``uid_base + launcher pid``, unique among live launchers): it
  cannot touch root's files or signal root's processes, and RLIMIT_NPROC is enforced for it
  (the kernel ignores RLIMIT_NPROC for root);
* rlimits on CPU seconds, address space, file size, open files, processes, core dumps; no new
  privileges (setuid binaries do not elevate); parent-death signal;
* wall-clock deadline and an output cap enforced here, outside the program.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
RESULT_FD = 3

# Runs inside the sandboxed interpreter. It reports "passed" on fd 3 only after the whole
# program (the tests included) ran to its end, so an early exit()/os._exit() is a failure.
WRAPPER = r"""
import os, sys
if DISABLE_SOCKETS:
    import _socket, socket
    def _denied(*args, **kwargs):
        raise PermissionError("network access is disabled in the sandbox")
    socket.socket = _socket.socket = socket.create_connection = socket.socketpair = _denied
    socket.create_server = socket.fromfd = _denied
_origin = os.getpid()
def _report(text):
    if os.getpid() != _origin:  # forked copies of the program do not speak for it
        return
    try:
        os.write(3, text.encode("utf-8", "replace")[:1000])
    except OSError:
        pass
try:
    with open("program.py", encoding="utf-8") as handle:
        code = compile(handle.read(), "program.py", "exec")
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
except BaseException as err:
    _report("failed: %s: %s" % (type(err).__name__, str(err)[:300]))
    os._exit(1)
_report("passed")
try:
    sys.stdout.flush()
    sys.stderr.flush()
finally:
    os._exit(0)
"""

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _unshare(flag: int) -> bool:
    return _libc.unshare(ctypes.c_int(flag)) == 0


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _private_tmp(tmpfs_mb: int) -> bool:
    """New mount namespace with size-capped tmpfs over every world-writable temp location.

    True once /tmp itself is private (the working directory lives there); the other
    locations are best effort.
    """
    if not _unshare(CLONE_NEWNS):
        return False
    try:
        # Without this, our mounts would propagate back into the host's namespace.
        _mount("none", "/", None, MS_REC | MS_PRIVATE)
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmpfs_mb}m,mode=1777")
    except OSError:
        return False
    for path in PRIVATE_TMP_DIRS[1:]:
        if os.path.isdir(path):
            try:
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmpfs_mb}m,mode=1777")
            except OSError:
                pass
    return True


def _count_processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _apply_limits(limits: dict, uid: int | None) -> None:
    memory = limits["memory_mb"] * 1024 * 1024
    processes = limits["max_processes"]
    if uid is None:
        # Same uid as the evaluator: the count is shared with everything it already runs.
        processes += _count_processes_of(os.getuid())
    for which, value in (
        (resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1)),
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_DATA, (memory, memory)),
        (resource.RLIMIT_FSIZE, (limits["file_mb"] * 1024 * 1024,) * 2),
        (resource.RLIMIT_NPROC, (processes, processes)),
        (resource.RLIMIT_NOFILE, (64, 64)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
    ):
        resource.setrlimit(which, value)


def _child(
    request: dict, uid: int | None, workdir: str, pid_ns: bool, mount_ns: bool, out_w: int, res_w: int
) -> None:
    """In the forked child: finish isolation, drop privileges, exec the interpreter. Never returns."""
    try:
        os.setsid()  # own process group: a kill(0, ...) from the program reaches nobody else
        if pid_ns and mount_ns:
            # A /proc of the new PID namespace: the program cannot even list outside processes.
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.dup2(res_w, RESULT_FD)
        os.closerange(RESULT_FD + 1, 4096)
        os.chdir(workdir)
        _apply_limits(request["limits"], uid)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        # Set after setuid: a credential change clears the parent-death signal.
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        wrapper = WRAPPER.replace("DISABLE_SOCKETS", "True" if request["disable_sockets"] else "False")
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}
        os.execve(request["python"], [request["python"], "-I", "-c", wrapper], env)
    except BaseException as err:  # noqa: BLE001 - anything here means the sandbox could not start
        try:
            os.write(2, f"sandbox setup failed: {err}".encode())
        finally:
            os._exit(127)


def _supervise(pid: int, out_r: int, res_r: int, limits: dict) -> dict:
    """Wait for the program under the wall-clock deadline and output cap; collect what it said."""
    deadline = time.monotonic() + limits["wall_seconds"]
    output, output_bytes, message, verdict = bytearray(), 0, b"", None
    open_fds = [out_r, res_r]
    status = None
    while status is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            verdict = "timed out"
            break
        ready, _, _ = select.select(open_fds, [], [], min(0.05, remaining)) if open_fds else ([], [], [])
        if not open_fds:
            time.sleep(min(0.01, remaining))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif fd == out_r:
                output_bytes += len(chunk)
                output = (output + chunk)[-2000:]
            else:
                message = (message + chunk)[:1000]
        if output_bytes > limits["output_bytes"]:
            verdict = "output limit exceeded"
            break
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
    if status is None:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    # Without a PID namespace, descendants may outlive the program: take its group down too.
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    for fd in (res_r,):
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            message = (message + chunk)[:1000]
    text = message.decode("utf-8", "replace")
    if verdict is None:
        if os.WIFSIGNALED(status):
            verdict = _signal_verdict(os.WTERMSIG(status), limits)
        elif text == "passed" and os.WEXITSTATUS(status) == 0:
            verdict = "passed"
        elif text.startswith("failed"):
            verdict = text
        else:
            verdict = f"failed: exited with status {os.WEXITSTATUS(status)} before the tests finished"
    return {
        "passed": verdict == "passed",
        "result": verdict,
        "output_tail": output.decode("utf-8", "replace")[-500:],
        "cpu_seconds": round(_cpu_spent(), 4),
    }


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of the throwaway uid, even those that left the program's group.

    A helper that becomes ``uid`` and calls kill(-1) reaches exactly that uid's processes;
    repeated because a process may be forking while the first round lands.
    """
    for _ in range(5):
        if not _count_processes_of(uid):
            return
        helper = os.fork()
        if helper == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
        time.sleep(0.01)


def _signal_verdict(sig: int, limits: dict) -> str:
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and _cpu_spent() >= limits["cpu_seconds"]):
        return "cpu limit exceeded"
    if sig == signal.SIGXFSZ:
        return "file size limit exceeded"
    return f"killed by signal {signal.Signals(sig).name}"


def _cpu_spent() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    request = json.loads(sys.stdin.read())
    limits = request["limits"]
    is_root = os.geteuid() == 0
    isolation = {"mount_namespace": False, "network_namespace": False, "pid_namespace": False, "uid": None}
    if is_root and request.get("namespaces", True):
        isolation["mount_namespace"] = _private_tmp(limits["tmpfs_mb"])
        isolation["network_namespace"] = _unshare(CLONE_NEWNET)
        isolation["pid_namespace"] = _unshare(CLONE_NEWPID)
    uid = request["uid_base"] + os.getpid() if is_root and request.get("uid_base") else None
    isolation["uid"] = uid
    request["disable_sockets"] = not isolation["network_namespace"]

    if isolation["mount_namespace"]:
        workdir = "/tmp/sandbox"
        os.mkdir(workdir, 0o700)
    else:
        workdir = request["workdir"]  # a fresh directory the evaluator made and will remove
    with open(os.path.join(workdir, "program.py"), "w", encoding="utf-8") as handle:
        handle.write(request["program"])
    if uid is not None:
        os.chown(workdir, uid, uid)
        os.chown(os.path.join(workdir, "program.py"), uid, uid)

    out_r, out_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(res_r)
        _child(request, uid, workdir, isolation["pid_namespace"], isolation["mount_namespace"], out_w, res_w)
    os.close(out_w)
    os.close(res_w)
    result = _supervise(pid, out_r, res_r, limits)
    if uid is not None:
        _kill_uid(uid)
    result["isolation"] = isolation
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
