"""The stages that turn curated silver into a published gold version, appended after curation.

    … CurateFiles → Refine (dedup, decontaminate, filter, split → gold) → QualityGate → RecordSnapshots

Refine runs when the run curated or pruned files, when forced (e.g. after changing filter
thresholds), and whenever gold is behind silver: each gold version records the silver.files
version it was built from, so a run killed after silver changed (and before gold caught up)
is finished by the next run even though that run finds nothing new to crawl. The gate runs
on every gold version this run wrote, and on the latest gold version if a killed run left it
without a quality result. Re-crawling unchanged sources on a finished lake changes no table.
"""

from __future__ import annotations

from data_platform.freshness import gold_staleness, unvalidated_gold_version
from data_platform.ingest.context import RunContext
from data_platform.ingest.stages import default_stages
from data_platform.ops.crashpoints import crash_point
from data_platform.publication import GOLD_TABLE


class Refine:
    name = "refine"
    reads = ()
    writes = ("refined",)

    def __init__(self, force: bool = False):
        self.force = force

    def run(self, ctx: RunContext) -> None:
        from data_platform.refine import refine

        reason = self._reason(ctx)
        if reason is None:
            ctx.progress(self.name, "no new, changed or deleted files and gold is current: silver and gold "
                                    "unchanged (--refine to force)")
            ctx.state.refined = False
            return
        ctx.progress(self.name, f"refining: {reason}")
        summary = refine(ctx.spark, ctx.config, ctx.run_id)
        for line in summary.format().splitlines():
            ctx.progress(self.name, line)
        ctx.counts.update(summary.stage_counts())
        ctx.table_versions.update(summary.table_versions)
        ctx.seconds.update({f"refine.{step}": seconds for step, seconds in summary.seconds.items()})
        ctx.state.refined = True

    def _reason(self, ctx: RunContext) -> str | None:
        if self.force:
            return "forced (--refine)"
        if ctx.counts.get("curate.files"):
            return f"{ctx.counts['curate.files']} new or changed files"
        if ctx.counts.get("prune.deleted_files") or ctx.counts.get("prune.removed_repositories"):
            return "files or repositories were removed"
        return gold_staleness(ctx.config)


class QualityGate:
    """Validate what the run wrote; publish the gold version only if its suite passes."""

    name = "quality"
    reads = ("refined",)
    writes = ("gate_failed",)

    def run(self, ctx: RunContext) -> None:
        from data_platform.quality import check_ingest_run

        versions = dict(ctx.table_versions)
        if not ctx.state.refined:
            pending = unvalidated_gold_version(ctx.config)
            if pending is None:
                return  # nothing new to validate or publish
            ctx.progress(self.name, f"{GOLD_TABLE} v{pending} has no quality result (an earlier run stopped "
                                    "in the gate): validating it now")
            versions = {GOLD_TABLE: pending}
        crash_point("gate")
        quality = check_ingest_run(ctx.spark, ctx.config, ctx.run_id, versions)
        for line in quality.summary_lines():
            ctx.progress(self.name, line)
        ctx.counts.update(quality.stage_counts())
        held = quality.gate.quarantine if quality.gate else None
        if held is not None and held.clean_version is not None:  # the gate wrote gold without quarantined rows
            ctx.table_versions["gold.training_corpus"] = held.clean_version
        if not quality.ok:
            ctx.state.gate_failed = True


def pipeline_stages(force_refine: bool = False, prune_missing: bool = False) -> list:
    """The full ingest job: crawl, prune, curate, refine into gold, and gate it."""
    return default_stages([Refine(force_refine), QualityGate()], prune_missing=prune_missing)


def ingest_stages(curate_only: bool = False, force_refine: bool = False, prune_missing: bool = False) -> list:
    """The stages `codemill ingest` and ``jobs/ingest.py`` run, from the same options."""
    if curate_only:
        return default_stages(prune_missing=prune_missing)
    return pipeline_stages(force_refine=force_refine, prune_missing=prune_missing)
