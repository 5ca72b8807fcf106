"""Whether bfloat16 matrix products are actually faster than float32 on this CPU: measured once.

The CPU's flags say whether it *has* bfloat16 units, not whether using them pays. Two
reference VMs with the same flags (AVX512-BF16, AMX hidden) disagreed: on one, SmolLM2's
8×640 prefill took 11.8 s in float32 and 5.6 s in bfloat16; on stop 36's, a 4×512 prefill took
3.4–3.9 s in float32 and 4.7–5.2 s under bfloat16 autocast, and oneDNN's bf16 kernel
(``brg_matmul:avx512_core_bf16``) ran a 2-thread product at 144 GFLOP/s against float32's 175.
So where the flags allow bfloat16, a short probe times one prefill-sized product both ways
(~0.1 s) and bfloat16 is chosen only when it is clearly faster.

The verdict is kept in ``~/.cache/codemill/cpu-bf16.json`` under a key of the CPU's model name,
flags and torch version (not the thread count, which a server may set apart), so that
``codemill eval`` and ``codemill serve`` on one machine choose the same weights (a completion
scored is the one an editor gets) even where the two dtypes are close and a new measurement
could fall either side.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from data_platform.storage import DEFAULT_CACHE

log = logging.getLogger(__name__)

MIN_SPEEDUP = 1.25  # bfloat16 must beat float32 by this much: near a tie, float32 (exact) wins
PROBE_SHAPE = (256, 1024, 2816)  # rows × hidden × MLP width: a prefill's products, ~1.5 GFLOP
PROBE_ROUNDS = 5  # alternating float32/bfloat16 rounds; the fastest of each counts


@dataclass(frozen=True)
class Bf16Verdict:
    key: str
    float32_seconds: float
    bfloat16_seconds: float

    @property
    def speedup(self) -> float:
        return self.float32_seconds / max(self.bfloat16_seconds, 1e-9)

    @property
    def pays(self) -> bool:
        return self.speedup >= MIN_SPEEDUP


def verdict_file() -> Path:
    return Path(DEFAULT_CACHE).expanduser() / "cpu-bf16.json"


def machine_key(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """What the verdict depends on: the CPU (model name and flags) and torch's version."""
    import torch

    try:
        text = cpuinfo.read_text()
    except OSError:
        text = ""
    cpu = [line for line in text.splitlines() if line.startswith(("model name", "flags"))][:2]
    described = "\n".join([*cpu, torch.__version__])
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def time_products(rounds: int = PROBE_ROUNDS) -> tuple[float, float]:
    """Fastest float32 and bfloat16 product of ``PROBE_SHAPE`` on torch's threads, alternating.

    Its inputs come from a private generator: the global one must not move (a model load that
    adds tokens draws their rows from it).
    """
    import torch

    rows, hidden, width = PROBE_SHAPE
    generator = torch.Generator().manual_seed(0)
    a32, b32 = torch.randn(rows, hidden, generator=generator), torch.randn(hidden, width, generator=generator)
    pairs = {torch.float32: (a32, b32), torch.bfloat16: (a32.bfloat16(), b32.bfloat16())}
    best = {dtype: float("inf") for dtype in pairs}
    with torch.inference_mode():
        for a, b in pairs.values():
            a @ b  # first call: oneDNN picks and builds its kernel
        for _ in range(rounds):
            for dtype, (a, b) in pairs.items():
                started = time.perf_counter()
                a @ b
                best[dtype] = min(best[dtype], time.perf_counter() - started)
    return best[torch.float32], best[torch.bfloat16]


def cpu_bf16_verdict(path: Path | None = None) -> Bf16Verdict:
    """This machine's verdict: read from ``path`` when its key matches, else measured and saved."""
    path = path or verdict_file()
    key = machine_key()
    try:
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return Bf16Verdict(key, float(stored["float32_seconds"]), float(stored["bfloat16_seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or unreadable: measure
    float32_seconds, bfloat16_seconds = time_products()
    verdict = Bf16Verdict(key, float32_seconds, bfloat16_seconds)
    log.info(
        "bfloat16 on this CPU: %.1f× float32's speed on a %s product (%s)",
        verdict.speedup, "×".join(map(str, PROBE_SHAPE)), "used" if verdict.pays else "not used",
    )
    _save(path, verdict)
    return verdict


def _save(path: Path, verdict: Bf16Verdict) -> None:
    """Write the verdict atomically; a cache that cannot be written only costs the next probe."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({**asdict(verdict), "speedup": round(verdict.speedup, 3)}) + "\n")
        partial.replace(path)
    except OSError as err:
        with contextlib.suppress(OSError):  # a half-written file must not outlive the failure
            partial.unlink()
        log.debug("could not keep the bfloat16 verdict in %s: %s", path, err)
