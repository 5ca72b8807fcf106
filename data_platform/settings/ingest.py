"""Settings of the crawl and curation stages (`codemill ingest`)."""

from __future__ import annotations

from pydantic import Field

from data_platform.settings.base import Section


class IngestSettings(Section):
    sources: list[str] = Field(default_factory=list, description="Sources crawled when --source is not given")
    max_file_bytes: int = Field(1_000_000, ge=1, description="Files larger than this are recorded as too_large")
