"""Allocator settings for CPU training: they stop the per-step page faults, change no number."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from training.allocator import JEMALLOC_CONF, TUNED_ENV, allocator_env, bundled_jemalloc

REPO = Path(__file__).resolve().parents[2]

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")

# Allocates and frees a 64 MiB block (glibc would mmap it) 20 times, touching every page, and
# prints the minor faults of the last 10 rounds: 16,384 a round when each round maps fresh pages.
FAULTS_PER_ROUND = textwrap.dedent(
    """
    import ctypes, resource, sys
    sys.path.insert(0, {root!r})
    if {tune}:
        from training.allocator import tune_this_process
        assert tune_this_process()
    libc = ctypes.CDLL(None)  # the process's malloc: a preloaded one when there is one
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    size = 64 << 20
    def round_trip():
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
    for _ in range(10):
        round_trip()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        round_trip()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
    """
)

# Three optimizer steps of a model whose logits are large enough for glibc to mmap them.
LOSSES = textwrap.dedent(
    """
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Embedding(8192, 64), torch.nn.Linear(64, 8192))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = torch.randint(0, 8192, (4, 128))
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(ids).flatten(0, 1), ids.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        print(loss.item().hex())
    """
)


def _run(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=True)
    return done.stdout.strip()


def test_env_only_when_asked():
    assert allocator_env(False) == {}
    if sys.platform.startswith("linux"):
        env = allocator_env(True)
        assert {key: env[key] for key in TUNED_ENV} == TUNED_ENV
        assert TUNED_ENV["MALLOC_MMAP_MAX_"] == "0"


@linux_only
def test_rays_jemalloc_is_preloaded_with_purging_off():
    library = bundled_jemalloc()
    assert library is not None and library.is_file()  # the Ray wheel codemill pins ships it
    env = allocator_env(True)
    assert env["LD_PRELOAD"] == str(library) and env["MALLOC_CONF"] == JEMALLOC_CONF
    reported = _run(f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
                    "from training.allocator import allocator_in_use; print(allocator_in_use())", env=env)
    assert reported == "jemalloc"
    assert _run(f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
                "from training.allocator import allocator_in_use; print(allocator_in_use())") == "libc"


@linux_only
def test_tuning_the_running_process_ends_the_faults():
    default = int(_run(FAULTS_PER_ROUND.format(root=str(REPO), tune=False)))
    tuned = int(_run(FAULTS_PER_ROUND.format(root=str(REPO), tune=True)))
    assert default >= 16_000  # every round faults its 64 MiB back in
    assert tuned < 100


@linux_only
def test_a_worker_started_with_the_environment_keeps_its_memory():
    started = int(_run(FAULTS_PER_ROUND.format(root=str(REPO), tune=False), env=allocator_env(True)))
    assert started < 100


@linux_only
def test_the_environment_form_keeps_the_losses_bit_for_bit():
    default = _run(LOSSES)
    tuned = _run(LOSSES, env=TUNED_ENV)
    preloaded = _run(LOSSES, env=allocator_env(True))
    assert len(default.splitlines()) == 3
    assert tuned == default
    assert preloaded == default


# Frees a touched 512 MiB block (kept, under either allocator's settings), then asks for it to go
# back to the kernel; prints the allocator that released it and the resident MiB before and after.
RELEASE = textwrap.dedent(
    """
    import ctypes, sys
    sys.path.insert(0, {root!r})
    from training.allocator import release_free_memory, tune_this_process
    tune_this_process()
    def resident_mib():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    blocks = [libc.malloc(1 << 20) for _ in range(512)]  # small blocks: glibc's heap, not mmap
    for block in blocks:
        ctypes.memset(block, 1, 1 << 20)
    for block in blocks:
        libc.free(block)
    kept = resident_mib()
    print(release_free_memory(), kept, resident_mib())
    """
)


@linux_only
@pytest.mark.parametrize("preloaded", [True, False], ids=["jemalloc", "glibc"])
def test_freed_memory_goes_back_to_the_kernel_when_asked(preloaded):
    env = allocator_env(True) if preloaded else TUNED_ENV
    allocator, kept, released = _run(RELEASE.format(root=str(REPO)), env=env).split()
    assert allocator == ("jemalloc" if preloaded else "libc")
    assert int(kept) - int(released) > 400  # most of the 512 MiB the settings had kept
