"""Settings of `codemill train` and of the Ray cluster it runs on (the ``train`` and ``ray`` sections)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from data_platform.settings.base import Section


class RaySettings(Section):
    address: str = Field(
        "local", description='"local" starts Ray in-process; "auto" or ray://host:port joins a cluster'
    )


class TrainSettings(Section):
    model: str = Field("tiny", description="tiny, smollm2, a Hugging Face hub id or a local directory")
    max_steps: int = Field(
        20, ge=1, description="Optimizer steps to reach (a resumed run continues up to it)"
    )
    workers: int = Field(2, ge=1, description="Ray Train workers (one DeepSpeed rank each)")
    zero_stage: int = Field(
        2, ge=1, le=3, description="DeepSpeed ZeRO stage (templates training/zero<N>.json)"
    )
    offload_optimizer: bool = Field(False, description="ZeRO: keep optimizer states in CPU memory")
    offload_params: bool = Field(False, description="ZeRO-3: keep parameters in CPU memory")
    use_gpu: bool = Field(False, description="One GPU per worker, NCCL and bf16; CPU runs use gloo and fp32")
    cpus_per_worker: float = Field(
        0.5,
        gt=0,
        description="CPUs each worker reserves; the rest feeds Ray Data (a full CPU each starves it)",
    )
    cpu_threads: int = Field(
        0,
        ge=0,
        description="torch threads per CPU worker; 0: the node's Ray CPUs divided among the run's workers on it "
        "(Ray itself would leave each worker one thread per reserved CPU, at least one)",
    )
    tune_allocator: bool = Field(
        True,
        description="CPU workers keep freed memory instead of faulting it back in every few steps: jemalloc "
        "from Ray's wheel, preloaded with purging off, and glibc's MALLOC_MMAP_MAX_=0, "
        "MALLOC_TRIM_THRESHOLD_=2 GiB, MALLOC_ARENA_MAX=1 where it cannot load; same losses, "
        "faster steps, the worker holds its peak memory",
    )
    tokenize_actors: int = Field(
        2, ge=1, description="Ray Data actors tokenising each split's stream: one, more while the stream lags"
    )
    placement_strategy: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = Field(
        "PACK", description="How workers are placed on nodes (STRICT_SPREAD: one per node)"
    )
    seq_len: int = Field(256, ge=8, description="Tokens per packed training block")
    micro_batch_size: int = Field(4, ge=1, description="Blocks per worker per forward pass")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step")
    lr: float = Field(1e-3, gt=0, description="Peak learning rate")
    min_lr_ratio: float = Field(
        0.1, ge=0, le=1, description="Final learning rate as a fraction of lr (cosine)"
    )
    warmup_steps: int = Field(2, ge=0, description="Linear warmup steps before the cosine decay")
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, ge=0, description="Global gradient norm clip (0 disables)")
    activation_checkpointing: bool = Field(
        False, description="Recompute activations in backward to save memory"
    )
    compile_model: Literal["auto"] | bool = Field(
        "auto",
        description="torch.compile the model (DeepSpeed's engine.compile): true, false or auto, which compiles GPU "
        "workers up to ZeRO-2 and leaves them eager on CPU (compiling costs minutes on a few cores) and under "
        "ZeRO-3 (its parameter hooks break the graph)",
    )
    fim_rate: float = Field(
        0.5, ge=0, le=1, description="Fraction of documents turned into fill-in-the-middle"
    )
    fim_spm_rate: float = Field(0.5, ge=0, le=1, description="Of those, the fraction in SPM (else PSM) order")
    seed: int = Field(0, description="Seeds FIM choices and model init; same seed, same data order")
    max_documents: int | None = Field(None, ge=1, description="Read at most this many documents per split")
    mixture: dict[Literal["code", "notebook", "docs", "qa"], float] | None = Field(
        None,
        description="Token shares per kind of document in the train stream (e.g. {code: 0.8, docs: 0.1, qa: 0.1}; "
        "sums to 1; kinds left out are not trained on); null: gold as it is",
    )
    eval_every: int = Field(10, ge=0, description="Steps between eval losses on the valid split (0: never)")
    eval_batches: int = Field(4, ge=1, description="Micro-batches per worker in one eval")
    checkpoint_every: int = Field(
        10, ge=1, description="Steps between checkpoints (and always the last step)"
    )
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints kept per run")
    max_failures: int = Field(
        2, ge=0, description="Worker-group restarts (from the last checkpoint) before giving up"
    )
    log_every: int = Field(1, ge=1, description="Steps between console progress lines")
    peak_tflops: float | None = Field(
        None,
        gt=0,
        description="Per-worker peak TFLOP/s for MFU; default: known GPU table or a CPU matmul probe",
    )
    storage_path: str | None = Field(
        None,
        description="Where run folders (checkpoints, manifest, metrics, export) live: a path or a URI such as "
        "s3://bucket/runs, reached with the lake's storage_options (default <lake root>/_train)",
    )
    export: bool = Field(True, description="Write a consolidated Hugging Face export at the end")

    torch_extensions_dir: str = Field(
        "~/.cache/codemill/torch_extensions",
        description="Persistent cache for DeepSpeed's compiled ops, one subfolder per virtual environment "
        "(first build takes ~90 s)",
    )

    def extensions_path(self) -> Path:
        """The op cache for this interpreter: one subfolder per virtual environment.

        torch rebuilds an op whenever its build file changes, and that file names the
        DeepSpeed sources of the environment that built it; two checkouts sharing one folder
        (a CI clone beside a working copy) rebuilt it on every alternate run (~40-90 s each).
        """
        digest = hashlib.sha1(sys.prefix.encode()).hexdigest()[:10]
        return Path(os.path.expandvars(self.torch_extensions_dir)).expanduser() / f"venv-{digest}"

    @field_validator("mixture")
    @classmethod
    def _shares_sum_to_one(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and (any(share < 0 for share in value.values()) or abs(sum(value.values()) - 1) > 1e-6):
            raise ValueError(f"train.mixture shares must be non-negative and sum to 1, got {value}")
        return value
