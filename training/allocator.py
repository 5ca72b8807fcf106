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

A process codemill starts itself (a CPU train worker) gets jemalloc instead, the copy Ray's
wheel ships for its own daemons, preloaded with purging off. glibc's heap fragments under ZeRO:
each step flattens the gradient partition into one new block while the next step's small
gradient tensors have been carved out of the last one, so the heap grows by the block's size
every few steps (SmolLM2, 2 ranks: +513 MiB three times in 16 steps, each growth 131,000
faults, 3-5 s on a busy VM, while the other rank waits). jemalloc's extents keep the worker flat.
The glibc settings stay in the environment too: if the preload cannot load (a node whose
Ray is installed elsewhere than the driver's: ld.so prints one warning and goes on), glibc
still gets them, and the worker's rank file says ``libc``. Measured in
docs/decisions/0188-jemalloc-for-cpu-train-workers.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import sys
from pathlib import Path

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


# Never give freed pages back (jemalloc's default returns them after 10 s, and the next
# step faults them in again): the same trade as glibc's trim threshold above.
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
_MALLCTL_ARENAS_ALL = 4096  # jemalloc.h: the arena index that names every arena
ENV_KEYS = (*TUNED_ENV, "LD_PRELOAD", "MALLOC_CONF")  # every variable allocator_env may set


def allocator_env(tune: bool) -> dict[str, str]:
    """Environment for a process that will train on CPU: jemalloc where found, glibc's settings; or nothing."""
    if not tune or not sys.platform.startswith("linux"):
        return {}
    env = dict(TUNED_ENV)
    jemalloc = bundled_jemalloc()
    if jemalloc is not None:
        env.update({"LD_PRELOAD": str(jemalloc), "MALLOC_CONF": JEMALLOC_CONF})
    return env


def bundled_jemalloc() -> Path | None:
    """The jemalloc shared library inside the installed Ray wheel, found without importing Ray."""
    spec = importlib.util.find_spec("ray")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        library = Path(folder) / "core" / "libjemalloc.so"
        if library.is_file():
            return library
    return None


def allocator_in_use() -> str:
    """``jemalloc`` when this process has it mapped (preloaded), else ``libc``: what a worker reports."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "libc"
    return "jemalloc" if "libjemalloc" in maps else "libc"


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


def release_free_memory() -> str | None:
    """Hand the kernel the memory this process has freed but kept; returns the allocator that did.

    The settings above keep a process at its peak working set, which is right while it trains
    and wrong once it is done with a model but lives on: a benchmark that trained its peers in
    process held 9-16 GB when the full path's worker needed 4.6 GB, and Ray's memory monitor
    killed the worker. jemalloc purges every arena (``arena.<MALLCTL_ARENAS_ALL>.purge``);
    glibc trims its heaps (``malloc_trim``). None where neither is reachable.
    """
    if not sys.platform.startswith("linux"):
        return None
    process = ctypes.CDLL(None)  # the preloaded allocator's symbols when there is one
    if allocator_in_use() == "jemalloc" and hasattr(process, "mallctl"):
        process.mallctl.argtypes = (ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        purged = process.mallctl(f"arena.{_MALLCTL_ARENAS_ALL}.purge".encode(), None, None, None, 0) == 0
        return "jemalloc" if purged else None
    libc = _glibc()
    if libc is None:
        return None
    libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    libc.malloc_trim(0)
    return "libc"


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
