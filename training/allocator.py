"""glibc's allocator kept from handing a CPU step's large tensors back to the kernel.

By default glibc serves every allocation above a (dynamic) threshold with its own ``mmap``
and returns it with ``munmap`` when freed, and trims free memory off the top of its heap.
A training step on CPU allocates and frees the same large tensors every step (a SmolLM2
step at 4 x 256 tokens: 200 MB of logits, their log-softmax and gradient), so the kernel
zero-fills and maps those pages again every step: ~100,000 minor faults a second, 10-15% of
the process's CPU time spent in the kernel on a quiet reference VM and 28% on a busy one.
Keeping freed memory in the heap removes the faults; the step's numbers are unchanged (same
losses, bit for bit) because only where memory comes from changes, not what is computed.
Measured in docs/engine-notes.md ("Ray Train + DeepSpeed on CPU").

The price is memory: a process keeps up to its peak working set instead of returning it
between steps, which a training or evaluation process needs again a moment later anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

TRIM_THRESHOLD_BYTES = 2**31 - 1  # the largest value mallopt's int takes: 2 GiB

# Each setting as glibc's environment variable (read when a process starts), its mallopt(3)
# parameter (malloc.h) and value. One arena: a thread other than the main one gets an arena of
# 64 MiB heaps, which cannot hold a 200 MB tensor, so glibc maps those with mmap whatever
# MALLOC_MMAP_MAX_ says; Ray Train runs the training loop in such a thread.
_SETTINGS = (
    ("MALLOC_MMAP_MAX_", -4, 0),
    ("MALLOC_TRIM_THRESHOLD_", -1, TRIM_THRESHOLD_BYTES),
    ("MALLOC_ARENA_MAX", -8, 1),
)
TUNED_ENV = {name: str(value) for name, _, value in _SETTINGS}


def allocator_env(tune: bool) -> dict[str, str]:
    """Environment for a process that will train on CPU: the settings above, or nothing."""
    return dict(TUNED_ENV) if tune and sys.platform.startswith("linux") else {}


def tune_this_process() -> bool:
    """Apply the settings to the running process (its main thread's arena and arenas made later).

    For processes codemill does not start itself (the CLI's evaluation, a benchmark's peer):
    call it on the thread that will compute, before the model allocates. False where the C
    library is not glibc (musl, macOS), which keep their own policies.
    """
    libc = _glibc()
    if libc is None:
        return False
    return all(libc.mallopt(param, value) == 1 for _, param, value in _SETTINGS)


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # only glibc has it  # noqa: B018
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    return libc
