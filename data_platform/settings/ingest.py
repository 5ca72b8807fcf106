"""Settings of the crawl and curation stages (`codemill ingest`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from data_platform.settings.base import Section


class QaSettings(Section):
    """Filters of Stack Exchange dumps (``stackexchange:`` sources)."""

    min_score: int = Field(0, description="Questions and answers scoring less are left out")
    accepted_only: bool = Field(False, description="Keep only questions with an accepted answer")
    tags: list[str] = Field(default_factory=list, description="Keep questions with one of these tags (empty: all)")
    top_answers: int = Field(3, ge=0, description="Best-scored answers kept besides the accepted one")


class IngestSettings(Section):
    sources: list[str] = Field(default_factory=list, description="Sources crawled when --source is not given")
    max_file_bytes: int = Field(1_000_000, ge=1, description="Files larger than this are recorded as too_large")
    git_ref: str = Field("HEAD", description="Ref crawled in git sources that do not name one (path@ref)")
    cache_dir: Path = Field(
        Path("~/.cache/codemill/git"), description="Where remote git sources are cloned (shallow, blob-filtered)"
    )
    task_bytes: int = Field(
        64 << 20, ge=1, description="Bytes one Spark task reads and curates at most on average (tasks are packed "
        "to equal bytes); smaller balances better and retries less, larger pays less per-task overhead"
    )
    files_per_task: int = Field(
        2_000, ge=1, description="Files one Spark task holds at most on average: more tasks when files are tiny"
    )
    min_tasks: int = Field(0, ge=0, description="At least this many crawl tasks (0: twice the default parallelism)")
    archive_max_total_bytes: int = Field(
        2_000_000_000, ge=1, description="Uncompressed bytes an archive may hold before it counts as a bomb"
    )
    archive_max_ratio: float = Field(
        200.0, gt=1, description="Uncompressed/compressed ratio of an entry (or a whole tar) that counts as a bomb"
    )
    parse_max_bytes: int = Field(500_000, ge=1, description="Files larger than this are not parsed (parse_ok false)")
    parse_timeout_ms: int = Field(2_000, ge=1, description="A tree-sitter parse running longer is abandoned")
    max_body_chars: int = Field(20_000, ge=1, description="Function bodies are cut to this many characters")
    qa: QaSettings = Field(default_factory=QaSettings, description="Filters of Stack Exchange dumps")
    progress_every_s: float = Field(
        15.0, ge=0, description="Seconds between task-count lines while a stage's Spark work runs (0: none)"
    )

    @field_validator("cache_dir", mode="after")
    @classmethod
    def _expand(cls, path: Path) -> Path:
        return path.expanduser()
