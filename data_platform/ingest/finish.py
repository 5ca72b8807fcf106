"""The stages that turn curated silver into a published gold version, appended after curation.

    … CurateFiles → Refine (dedup, decontaminate, filter, split → gold) → QualityGate → RecordSnapshots

Refine is skipped when the run curated nothing new (re-crawling unchanged sources changes no
table), unless forced — e.g. after changing filter thresholds in the config.
"""

from __future__ import annotations

from data_platform.ingest.run import RunContext


class Refine:
    name = "refine"

    def __init__(self, force: bool = False):
        self.force = force

    def run(self, ctx: RunContext) -> None:
        from data_platform.refine import refine

        if not self.force and not ctx.counts.get("curate.files"):
            ctx.progress(self.name, "no new or changed files: silver and gold unchanged (--refine to force)")
            ctx.state["refined"] = False
            return
        summary = refine(ctx.spark, ctx.config, ctx.run_id)
        for line in summary.format().splitlines():
            ctx.progress(self.name, line)
        ctx.counts.update(summary.stage_counts())
        ctx.table_versions.update(summary.table_versions)
        ctx.seconds.update({f"refine.{step}": seconds for step, seconds in summary.seconds.items()})
        ctx.state["refined"] = True


class QualityGate:
    """Validate what the run wrote; publish the gold version only if its suite passes."""

    name = "quality"

    def run(self, ctx: RunContext) -> None:
        from data_platform.quality import check_ingest_run

        if not ctx.state.get("refined"):
            return  # nothing new to validate or publish
        quality = check_ingest_run(ctx.spark, ctx.config, ctx.run_id, ctx.table_versions)
        for line in quality.summary_lines():
            ctx.progress(self.name, line)
        ctx.counts.update(quality.stage_counts())
        held = quality.gate.quarantine if quality.gate else None
        if held is not None and held.clean_version is not None:  # the gate wrote gold without quarantined rows
            ctx.table_versions["gold.training_corpus"] = held.clean_version
        if not quality.ok:
            ctx.state["gate_failed"] = True


def pipeline_stages(force_refine: bool = False) -> list:
    """The full ingest job: crawl, curate, refine into gold, and gate it."""
    from data_platform.ingest.run import default_stages

    return default_stages([Refine(force_refine), QualityGate()])
