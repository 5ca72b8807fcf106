"""Row-level checks of gold that reuse the pipeline's own detectors, not a second rule set.

* ``no_pii_left`` runs :func:`data_platform.pii.find_pii` — the function curation's
  redactor is built on — over gold text, with the same path, so the gate can never flag
  something the redactor would have replaced (redaction repeats until ``find_pii`` finds
  nothing), and never misses something the detector knows.
* ``no_benchmark_contamination`` matches gold text against the refine stage's
  decontamination index (:mod:`data_platform.decontaminate`).

Each is a plain function over one Arrow batch that returns violation rows
``(doc_id, expectation, reason)``; the Spark glue applies it with ``mapInArrow``. Reasons
name the detector, the line and a masked excerpt: ops.quality_results and reports are not
restricted, so they never repeat a secret.
"""

from __future__ import annotations

import pyarrow as pa

from data_platform.contracts import contract
from data_platform.quality.suites import check_label

# A violation is the part of a gold.quarantine row the checks decide.
_VIOLATION_COLUMNS = ("doc_id", "expectation", "reason")
VIOLATION_SCHEMA = contract("gold.quarantine").spark_ddl(_VIOLATION_COLUMNS)
_ARROW_SCHEMA = pa.schema(contract("gold.quarantine").arrow_fields(_VIOLATION_COLUMNS))
MAX_FINDINGS_IN_REASON = 3


def pii_reason(text: str, path: str | None) -> str | None:
    """Why a text fails ``no_pii_left`` (masked), or None when the detector finds nothing."""
    from data_platform.pii import find_pii, masked

    findings = find_pii(text or "", path)
    if not findings:
        return None
    parts = [
        f"{f.kind} ({f.detector}) at line {text.count(chr(10), 0, f.start) + 1}: {masked(f.value(text))}"
        for f in findings[:MAX_FINDINGS_IN_REASON]
    ]
    more = f"; {len(findings) - MAX_FINDINGS_IN_REASON} more" if len(findings) > MAX_FINDINGS_IN_REASON else ""
    return f"{len(findings)} PII finding(s) left after redaction: " + "; ".join(parts) + more


def contamination_reason(index, text: str | None) -> str | None:
    match = index.match(text)
    return f"overlaps benchmark item {match}" if match else None


def row_check_batches(names: tuple[str, ...], index=None):
    """mapInArrow function: (doc_id, path, text) → one violation row per failing (row, check).

    Every requested check runs in the same pass over the text, so gold is read once.
    """
    labels = {name: check_label(name) for name in names}

    def reasons(text: str | None, path: str | None):
        if "no_pii_left" in labels:
            yield labels["no_pii_left"], pii_reason(text or "", path)
        if "no_benchmark_contamination" in labels and index is not None:
            yield labels["no_benchmark_contamination"], contamination_reason(index, text)

    def run(batches):
        for batch in batches:
            rows = zip(
                batch.column("doc_id").to_pylist(),
                batch.column("path").to_pylist(),
                batch.column("text").to_pylist(),
                strict=True,
            )
            found = [(doc, label, reason) for doc, path, text in rows for label, reason in reasons(text, path) if reason]
            yield pa.RecordBatch.from_arrays(
                [pa.array([f[i] for f in found], pa.string()) for i in range(3)], schema=_ARROW_SCHEMA
            )

    return run


def row_check_violations(df, config, names: tuple[str, ...]):
    """(doc_id, expectation, reason) of the row-level checks ``names`` over gold ``df``, one pass."""
    from data_platform.decontaminate import build_index
    from data_platform.settings.refine import refine_sections

    decontamination = refine_sections(config).decontamination
    index = build_index(decontamination) if "no_benchmark_contamination" in names and decontamination.enabled else None
    return df.select("doc_id", "path", "text").mapInArrow(row_check_batches(tuple(names), index), VIOLATION_SCHEMA)


ROW_CHECKS = ("no_pii_left", "no_benchmark_contamination")
