"""Is gold behind silver, and is the latest gold version gated? Read from Delta logs, no Spark.

Each gold version records, in its Delta commit's metadata, the silver.files version it was
built from. A run killed after silver changed and before gold caught up leaves the two
out of step; a run killed in the quality gate leaves the latest gold version without a row
in ops.quality_results. The next ingest run asks here and finishes the job.
"""

from __future__ import annotations

import json

from data_platform.config import PlatformConfig
from data_platform.publication import GOLD_TABLE

SILVER_TABLE = "silver.files"
BUILT_FROM_KEY = "built_from"  # key of gold's Delta commit metadata: {"built_from": {"silver.files": N}}


def built_from_metadata(silver_version: int) -> str:
    """The Delta commit metadata a gold version carries: which silver.files version made it."""
    return json.dumps({BUILT_FROM_KEY: {SILVER_TABLE: int(silver_version)}}, sort_keys=True)


def _latest_commit_metadata(path) -> dict:
    from data_platform.storage import delta_table

    history = delta_table(str(path)).history(1)
    text = history[0].get("userMetadata") if history else None
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def gold_staleness(config: PlatformConfig) -> str | None:
    """Why gold must be rebuilt although nothing new was crawled, or None when it is current.

    Read from the Delta logs with delta-rs: no Spark job. A gold version written without the
    metadata (by an older codemill) counts as current: the next real change rebuilds it.
    """
    from data_platform import lake

    silver_path, gold_path = config.lake.table_path(SILVER_TABLE), config.lake.table_path(GOLD_TABLE)
    if not lake.is_delta_table(silver_path):
        return None
    silver_version = lake.table_version(silver_path)
    if not lake.is_delta_table(gold_path):
        return None if silver_version == 0 else f"{GOLD_TABLE} was never written from {SILVER_TABLE}"
    gold_version = lake.table_version(gold_path)
    built_from = _latest_commit_metadata(gold_path).get(BUILT_FROM_KEY, {}).get(SILVER_TABLE)
    if built_from is None:  # `tables init` created gold empty, or an older codemill wrote it
        return f"{GOLD_TABLE} is empty" if gold_version == 0 and silver_version > 0 else None
    if int(built_from) == silver_version:
        return None
    return (f"{GOLD_TABLE} v{gold_version} was built from {SILVER_TABLE} v{built_from}, "
            f"which is now at v{silver_version} (an earlier run stopped before gold caught up)")


def unvalidated_gold_version(config: PlatformConfig) -> int | None:
    """The latest gold version if no quality result exists for it (a run died in the gate)."""
    from data_platform import lake
    from data_platform.ops.records import read_rows

    path = config.lake.table_path(GOLD_TABLE)
    if not lake.is_delta_table(path):
        return None
    version = lake.table_version(path)
    if version == 0 and not _latest_commit_metadata(path):
        return None  # only the empty table `tables init` created
    validated = any(row["table_name"] == GOLD_TABLE and row["table_version"] == version
                    for row in read_rows(config, "ops.quality_results"))
    return None if validated else version
