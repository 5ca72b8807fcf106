"""Settings of `codemill serve` (the ``serve`` section)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from data_platform.settings.base import Section

API_KEYS_ENV = "CODEMILL_SERVE_API_KEYS"


class ServeSettings(Section):
    model: str | None = Field(
        None,
        description="Run id, export directory, hub id, smollm2 or tiny; default: the newest promoted "
        "run, else smollm2",
    )
    host: str = Field("127.0.0.1", description="Interface to bind (0.0.0.0 needs API keys)")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port)")
    backend: Literal["transformers", "vllm"] = Field(
        "transformers", description="Decoding engine (vllm: optional extra, GPU only)"
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype (auto: bfloat16 on bf16 GPUs and on AMX/AVX512-BF16 CPUs where a "
        "one-time probe measured it faster than float32, else float32; `codemill eval` generates by the same rule)"
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: torch's choice)")
    # Secret: shown masked by `config show` and in the config copies lineage records.
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description=f"Bearer tokens accepted (also from ${API_KEYS_ENV}, comma-separated); "
        "none = local only",
    )
    rate_limit_per_minute: int = Field(
        600, ge=0, description="Requests per minute per API key (or client address); 0 = unlimited"
    )
    rate_limit_burst: int = Field(60, ge=1, description="Requests a key may send at once before limiting")
    max_request_bytes: int = Field(1_000_000, ge=1024, description="Largest request body (413 beyond)")
    request_timeout_s: float = Field(
        60.0, gt=0, description="Wall-clock limit per request, queueing included"
    )
    max_batch_size: int = Field(16, ge=1, description="Sequences decoded together in one step")
    max_queue: int = Field(64, ge=0, description="Requests waiting for a batch slot before 429")
    max_prompt_tokens: int = Field(
        4096, ge=16, description="Prompt limit (also capped by the model's context length)"
    )
    default_max_tokens: int = Field(64, ge=1, description="max_tokens when a request gives none")
    max_tokens_limit: int = Field(1024, ge=1, description="Largest max_tokens a request may ask")
    max_n: int = Field(8, ge=1, description="Largest n (completions per prompt)")
    fim: Literal["auto", "psm", "spm", "none"] = Field(
        "auto",
        description="FIM format: auto = from the run's lineage; psm/spm for models trained elsewhere",
    )
    fim_fallback: Literal["error", "prefix_only"] = Field(
        "error",
        description="A suffix sent to a model not trained with FIM: 400, or complete from the prefix only",
    )
    extra_context_tokens: int = Field(
        1024, ge=0, description="Token budget for extra_context files in a prompt"
    )
    log_prompts: bool = Field(False, description="Put prompt and completion text in the access log")
    events_flush_seconds: float = Field(5.0, gt=0, description="Longest time an event waits before Delta")
    events_flush_rows: int = Field(500, ge=1, description="Events that trigger a flush")
    events_dir: str | None = Field(
        None, description="Write-ahead log of completion events (default <lake>/_serve/events)"
    )
    remembered_completions: int = Field(
        10_000, ge=0, description="Completions remembered to enrich their events (model, length)"
    )

    @field_validator("api_keys")
    @classmethod
    def _usable_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            value = key.get_secret_value()
            if len(value) < 16 or any(char.isspace() for char in value):
                raise ValueError("API keys must be at least 16 characters without whitespace")
        return keys
