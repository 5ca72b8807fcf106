"""Which table versions are published, i.e. passed their Great Expectations gate.

The gate (``data_platform.quality``) writes one ``ops.quality_results`` row per validation
with ``published = true`` when a gold version passes. Training asks here which version to
read and refuses versions that were never published.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.config import PlatformConfig
from data_platform.ops.records import read_rows

GOLD_TABLE = "gold.training_corpus"


@dataclass(frozen=True)
class PublishedVersion:
    table_name: str
    table_version: int
    quality_result_id: str


def published_versions(config: PlatformConfig, table_name: str = GOLD_TABLE) -> list[PublishedVersion]:
    """Every published version of a table, oldest first."""
    rows = [
        row
        for row in read_rows(config, "ops.quality_results")
        if row["table_name"] == table_name and row["published"] and row["success"]
    ]
    rows.sort(key=lambda row: (row["table_version"], row["validated_at"]))
    latest_per_version = {row["table_version"]: row for row in rows}
    return [
        PublishedVersion(table_name, version, row["result_id"])
        for version, row in sorted(latest_per_version.items())
    ]


def latest_published_version(config: PlatformConfig, table_name: str = GOLD_TABLE) -> PublishedVersion | None:
    """The newest published version, or None when nothing has passed the gate yet."""
    versions = published_versions(config, table_name)
    return versions[-1] if versions else None


def publication_of(config: PlatformConfig, table_name: str, version: int) -> PublishedVersion | None:
    """The publication record of one version, or None if that version is unpublished."""
    for published in published_versions(config, table_name):
        if published.table_version == version:
            return published
    return None
