"""Turn a run's sharded DeepSpeed checkpoint into a plain Hugging Face model directory.

ZeRO-2 and ZeRO-3 checkpoints keep fp32 master weights split across ranks' optimizer
files; DeepSpeed's ``get_fp32_state_dict_from_zero_checkpoint`` stitches them back into one
state dict. It is loaded into the run's base model (same architecture and tokenizer) and
written with ``save_pretrained`` as safetensors, so plain transformers can load it with no
DeepSpeed, Ray or codemill installed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from training.loop import CHECKPOINT_TAG, LINEAGE_FILE


class ExportError(RuntimeError):
    pass


def consolidated_state_dict(checkpoint_dir: Path) -> dict[str, Any]:
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return get_fp32_state_dict_from_zero_checkpoint(str(checkpoint_dir), tag=CHECKPOINT_TAG)


def export_checkpoint(
    checkpoint_dir: Path, base_model_dir: Path, out_dir: Path, lineage: dict[str, Any] | None = None
) -> Path:
    """Write ``out_dir`` (model safetensors + config + tokenizer + lineage) from a ZeRO checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    state = consolidated_state_dict(checkpoint_dir)
    model = AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=torch.float32)
    # Tied models keep lm_head as a view of the embeddings; the checkpoint stores it once.
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise ExportError(
            f"checkpoint does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(base_model_dir)).save_pretrained(str(out_dir))
    if lineage is not None:
        (out_dir / LINEAGE_FILE).write_text(json.dumps(lineage, indent=2, sort_keys=True))
    return out_dir
