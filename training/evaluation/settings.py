"""Settings of `codemill eval` (the ``eval`` section)."""

from __future__ import annotations

from pydantic import Field

from data_platform.settings.base import Section


class EvalSettings(Section):
    benchmark: str = Field(
        "humaneval",
        description="humaneval, humaneval-infill-single, humaneval-infill-multi, line-completion, "
        "or a path to a problems JSONL file (HumanEval format)",
    )
    fim: str = Field(
        "auto",
        pattern="^(auto|psm|spm|none)$",
        description="Infilling prompt: auto = the FIM format the model's training lineage records "
        "(prefix only without one, as serve.fim_fallback=prefix_only); psm/spm force one; none = prefix only",
    )
    limit: int = Field(0, ge=0, description="Evaluate only the first N problems (0 = all)")
    samples: int = Field(
        1, ge=1, description="Completions sampled per problem (1 with temperature 0 = greedy pass@1)"
    )
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature; 0 = greedy decoding")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass")
    max_new_tokens: int = Field(384, ge=1, description="Longest completion generated")
    generation_batch_size: int = Field(8, ge=1, description="Sequences generated per forward batch")
    ks: list[int] = Field(
        default_factory=lambda: [1, 10, 100], description="pass@k reported where samples >= k"
    )
    seed: int = Field(0, description="Sampling seed")
    heldout: bool = Field(True, description="Measure held-out loss on the gold valid/test split")
    heldout_splits: list[str] = Field(
        default_factory=lambda: ["valid", "test"], description="Splits scored for loss"
    )
    heldout_max_documents: int = Field(256, ge=0, description="Documents scored per language (0 = all)")
    heldout_max_tokens: int = Field(512, ge=2, description="Tokens scored from the start of each document")
    heldout_batch_size: int = Field(4, ge=1, description="Documents per forward pass")
    line_documents: int = Field(
        50, ge=1, description="line-completion: test-split documents sampled per language (one line and one span each)"
    )
    line_max_new_tokens: int = Field(64, ge=1, description="line-completion: longest completion of a line")
    span_max_new_tokens: int = Field(
        160, ge=1, description="line-completion: longest completion of a multi-line span"
    )
    workers: int = Field(2, ge=1, description="Sandboxed programs run in parallel")
    sandbox_wall_seconds: float = Field(10.0, gt=0, description="Wall-clock limit per program")
    sandbox_cpu_seconds: int = Field(10, ge=1, description="CPU-time limit per process (RLIMIT_CPU)")
    sandbox_memory_mb: int = Field(1024, ge=64, description="Address-space limit per process (RLIMIT_AS)")
    sandbox_file_mb: int = Field(16, ge=1, description="Largest file a program may write (RLIMIT_FSIZE)")
    sandbox_tmpfs_mb: int = Field(64, ge=1, description="Size of the private /tmp of each program")
    sandbox_max_processes: int = Field(8, ge=1, description="Processes a program may have (RLIMIT_NPROC)")
    sandbox_output_bytes: int = Field(1_000_000, ge=1, description="stdout+stderr a program may print")
    sandbox_python: str = Field(
        "", description="Interpreter for untrusted code; '' = this one or the system python3"
    )
    sandbox_uid_base: int = Field(
        1_500_000_000,
        ge=0,
        le=2_000_000_000,
        description="As root, sandboxes run as throwaway uids from this base up; 0 = root's own uid",
    )
    sandbox_bwrap: str = Field(
        "bwrap", description="bubblewrap executable (name on PATH or path) that sandboxes generated code"
    )
    unsafe_no_sandbox: bool = Field(
        False,
        description="Run generated code WITHOUT a sandbox when bubblewrap cannot run "
        "(results are marked sandbox=none); off = refuse",
    )
    endpoint_model: str = Field("default", description="--endpoint: model id sent to the server")
    endpoint_api_key: str = Field(
        "", description="--endpoint: bearer token ('' = $CODEMILL_API_KEY, or none)"
    )
    endpoint_concurrency: int = Field(4, ge=1, description="--endpoint: requests in flight at once")
    endpoint_max_n: int = Field(
        8, ge=1, description="--endpoint: most samples asked in one request (the server's serve.max_n)"
    )
    device: str = Field(
        "auto", description="Where the model runs: auto (cuda when available), cpu, cuda, cuda:N"
    )
    heldout_precision: str = Field(
        "auto",
        pattern="^(auto|float32|bfloat16)$",
        description="Arithmetic of held-out loss: bfloat16 = matrix products in bf16 (autocast, weights "
        "stay float32; ~1.8x faster where the chip has bf16 units, the loss moves in the fourth digit); "
        "float32 = exact; auto = bfloat16 on bf16 GPUs and on AMX/AVX512-BF16 CPUs where a one-time "
        "probe measured it faster (~/.cache/codemill/cpu-bf16.json), else float32",
    )
    generation_precision: str = Field(
        "auto",
        pattern="^(auto|float32|bfloat16)$",
        description="Weights generation runs on (HumanEval, infilling, line completion): bfloat16 = a "
        "bf16 copy of the weights (~2x faster where the chip has bf16 units; greedy text can part from "
        "float32's after near ties); float32 = the loaded weights; auto = held-out loss's rule "
        "(serve.dtype=auto follows it too)",
    )
    report_dir: str = Field("", description="Where reports go; '' = <lake root>/_reports/eval")
