"""The gate's row-level checks as plain functions: the redactor's detector, the decontamination index."""

from __future__ import annotations

import pyarrow as pa

from data_platform.decontaminate import ContaminationIndex, humaneval_items
from data_platform.pii import redact
from data_platform.quality.row_checks import pii_reason, row_check_batches

LEAK = "SENTRY = 'https://user%3Aname:%23%40%5E@corp-mail.io/1'\nowner = 'ann.lee@uni-foo.de'\n"


def _batch(rows):
    doc_ids, paths, texts = zip(*rows, strict=True)
    return pa.RecordBatch.from_arrays(
        [pa.array(list(doc_ids)), pa.array(list(paths)), pa.array(list(texts))], names=["doc_id", "path", "text"]
    )


def test_pii_reason_names_detector_and_line_but_never_the_value():
    reason = pii_reason(LEAK, "conf.py")
    assert reason.startswith("2 PII finding(s) left after redaction")
    assert "line 1" in reason and "line 2" in reason and "BasicAuthDetector" in reason
    assert "corp-mail" not in reason and "uni-foo" not in reason and "%23%40%5E" not in reason


def test_what_the_redactor_wrote_never_fails_the_check():
    assert pii_reason(redact(LEAK, "conf.py").text, "conf.py") is None
    assert pii_reason("see https://user%3Aname:%23%40%5E@example.com", "a.py") is None


def test_one_pass_reports_each_failing_row_and_check():
    item = humaneval_items()[7]
    index = ContaminationIndex([item])
    batch = _batch(
        [("clean", "a.py", "def f():\n    return 1\n"), ("leak", "b.py", LEAK), ("bench", "c.py", item.prompt + item.solution)]
    )
    run = row_check_batches(("no_pii_left", "no_benchmark_contamination"), index)
    rows = [row for out in run(iter([batch])) for row in out.to_pylist()]
    found = {(row["doc_id"], row["expectation"]) for row in rows}
    assert found == {
        ("leak", "check:no_pii_left(text)"),
        ("bench", "check:no_benchmark_contamination(text)"),
    }
    assert any("HumanEval/7" in row["reason"] for row in rows)
    # only the requested checks run
    only_pii = [row for out in row_check_batches(("no_pii_left",), index)(iter([batch])) for row in out.to_pylist()]
    assert {row["doc_id"] for row in only_pii} == {"leak"}
