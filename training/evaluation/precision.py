"""The arithmetic held-out loss is computed in: float32, or bfloat16 products where the chip has them.

Scoring whole documents is a stack of large matrix products; on a CPU with AMX or AVX512-BF16
(or a GPU with bf16 units) bfloat16 does them about twice as fast as float32 (SmolLM2-135M on 2
Sapphire Rapids cores: a 4x512 forward 3.5 s -> 1.5 s; the demo's held-out loss 34.8 s -> 19.6 s,
loss 2.14147 -> 2.14172). ``bfloat16`` runs the model under autocast: the weights stay float32,
products are bfloat16, and the reductions autocast keeps in float32 (softmax, norms, the loss)
stay there. Generation is left alone: decoding a token at a time is bound by reading the
weights, which autocast re-casts at every step (HumanEval generation got slower, 3.7 s -> 5.4 s),
and greedy completions would part from float32's after near ties. Reports record the precision.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

AUTO, FLOAT32, BFLOAT16 = "auto", "float32", "bfloat16"
# /proc/cpuinfo flags of the x86 units that multiply bfloat16 natively.
NATIVE_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is missing: not Linux, or hidden)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def native_bf16(device_type: str, flags: set[str] | None = None) -> bool:
    """Whether ``device_type`` ('cpu' or 'cuda') multiplies bfloat16 in hardware."""
    if device_type == "cuda":
        import torch

        return torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        return bool(NATIVE_BF16_CPU_FLAGS & (cpu_flags() if flags is None else flags))
    return False


def resolve_precision(setting: str, device_type: str, flags: set[str] | None = None) -> str:
    """``eval.precision`` made concrete: auto is bfloat16 where the hardware has it, else float32."""
    if setting != AUTO:
        return setting
    return BFLOAT16 if native_bf16(device_type, flags) else FLOAT32


def compute_in(precision: str, device_type: str):
    """Context manager the model's forward passes run under for ``precision``."""
    if precision == FLOAT32:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type, dtype=torch.bfloat16)
