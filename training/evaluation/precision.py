"""The arithmetic evaluation runs in: float32, or bfloat16 where the chip multiplies it faster.

Held-out loss and generation are both stacks of matrix products; on a GPU with bf16 units, and
on some CPUs with AMX or AVX512-BF16, bfloat16 does them about twice as fast as float32. On a
CPU the flags are necessary but not enough (a VM with AVX512-BF16 ran bfloat16 products slower
than float32), so ``auto`` also asks :mod:`training.evaluation.bf16_probe`'s measurement.

- **Held-out loss** runs under autocast (``eval.heldout_precision``): the weights stay float32,
  products are bfloat16, and the reductions autocast keeps in float32 (softmax, norms, the
  loss) stay there (SmolLM2-135M on 2 Sapphire Rapids cores: the demo's held-out loss 34.8 s
  -> 19.6 s, loss 2.14147 -> 2.14172).
- **Generation** (``eval.generation_precision``) runs on a bfloat16 copy of the weights, not
  under autocast: decoding a token at a time is bound by reading the weights, which autocast
  re-casts at every step (HumanEval generation got slower under it, 3.7 s -> 5.4 s), while
  bfloat16 weights are half the bytes to read. Prompt prefill, the bulk of line completion
  with a whole file around the cursor, runs at bfloat16 speed too (the demo's fine-tuned
  line completion: 103 s -> 51 s). Greedy completions part from float32's after near ties;
  ``codemill serve`` picks its weights by the same rule (``serve.dtype=auto``), so a
  completion scored here is the one an editor gets from a server on the same machine.

Reports and stored rows record the precision of each figure.
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


def resolve_precision(
    setting: str, device_type: str, flags: set[str] | None = None, cpu_bf16_pays: bool | None = None
) -> str:
    """``eval.precision`` made concrete: auto is bfloat16 where the hardware has it and, on a CPU,
    where it measured faster than float32 (``cpu_bf16_pays``; None = this machine's probe)."""
    if setting != AUTO:
        return setting
    if not native_bf16(device_type, flags):
        return FLOAT32
    if device_type == "cpu" and cpu_bf16_pays is None:
        from training.evaluation.bf16_probe import cpu_bf16_verdict

        cpu_bf16_pays = cpu_bf16_verdict().pays
    return BFLOAT16 if device_type != "cpu" or cpu_bf16_pays else FLOAT32


def compute_in(precision: str, device_type: str):
    """Context manager the model's forward passes run under for ``precision``."""
    if precision == FLOAT32:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type, dtype=torch.bfloat16)


def torch_dtype(precision: str):
    """The torch dtype weights are held in for ``precision`` (float32 or bfloat16)."""
    import torch

    return torch.bfloat16 if precision == BFLOAT16 else torch.float32


def weights_for_generation(model, precision: str):
    """The model generation runs on: ``model`` itself when it already has ``precision``'s dtype,
    else a copy in that dtype (held-out loss keeps the original's float32 weights).

    The copy costs the weights' size in that dtype (half of float32's for bfloat16).
    """
    import copy

    dtype = torch_dtype(precision)
    if next(model.parameters()).dtype == dtype:
        return model
    return copy.deepcopy(model).to(dtype).eval()
