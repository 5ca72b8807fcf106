"""Secrets the gate fails on never leave through reports (real Spark, Delta, Great Expectations).

Gold is written with planted secrets, quarantine is off (``quality.on_row_failure=block``),
and the gold suite has, besides the PII check, a Great Expectations regex for key shapes
(``quality.extra_expectations_dir``): the expectation whose examples, stored results and
Data Docs would otherwise carry the secret verbatim. Then every file under the lake's report
directory, every row of every ops table and the gate's printed summary are searched for them.
"""

from __future__ import annotations

import pytest

from data_platform.contracts import all_contracts
from data_platform.lake import init_tables
from data_platform.quality import build_report, gate_gold
from tests.conftest import make_config
from tests.fixtures.quality import gold_rows, silver_rows, write_gold, write_silver

pytestmark = pytest.mark.integration

# Shaped like real credentials (so the detectors fire), valid for nothing.
AWS_KEY = "AKIAQX7Z3K9W2M5N8B4V"
GITHUB_TOKEN = "ghp_" + "Zq8Xw3Lk5Mn7Bv2Cx4Pj6Hg9Tr1Ys0Ud3Fe5"
PASSWORD = "Tr0ub4dor&3-horse!staple"
EMAIL = "maintainer.private@corp-mail.io"
PLANTED = (AWS_KEY, GITHUB_TOKEN, PASSWORD, EMAIL)

KEY_SHAPES = r"""table: gold.training_corpus
expectations:
  - type: expect_column_values_to_not_match_regex_list
    kwargs:
      column: text
      regex_list: ['AKIA[0-9A-Z]{16}', 'gh[pousr]_[A-Za-z0-9]{36}']
    why: our own belt-and-braces key check
"""


def _with_secrets(rows: list[dict]) -> list[dict]:
    import hashlib

    planted = [
        f"AWS_ACCESS_KEY_ID = '{AWS_KEY}'\n",
        f"token = \"{GITHUB_TOKEN}\"  # CI\n",
        f"db_password = \"{PASSWORD}\"\n",
        f"# maintainer: {EMAIL}\n",
    ]
    for index, line in zip((4, 9, 14, 19), planted, strict=True):
        rows[index]["text"] += line
        rows[index]["exact_dup_key"] = hashlib.sha256(rows[index]["text"].encode()).hexdigest()
    return rows


def _ops_table_strings(config) -> list[str]:
    from deltalake import DeltaTable

    from data_platform.lake import is_delta_table

    found = []
    for name in all_contracts():
        path = config.lake.table_path(name)
        if name.startswith("ops.") and is_delta_table(path):
            table = DeltaTable(str(path)).to_pyarrow_table()
            found += [str(value) for column in table.columns for value in column.to_pylist()]
    return found


@pytest.fixture(scope="module")
def blocked_gate(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("secret-lake")
    extra = tmp_path_factory.mktemp("extra-expectations")
    (extra / "gold.training_corpus.yaml").write_text(KEY_SHAPES)
    config = make_config(
        root, "quality.languages=[python,go]", "quality.on_row_failure=block",
        f"quality.extra_expectations_dir={extra}",
    )
    init_tables(spark, config, ["ops.quality_results"])
    write_silver(spark, config, silver_rows())
    version = write_gold(spark, config, _with_secrets(gold_rows()))
    result = gate_gold(spark, config, "run-secrets", version)
    report = build_report(spark, config, run_id="run-secrets")
    return config, result, report


def test_the_gate_fails_on_the_planted_secrets(blocked_gate):
    _, result, _ = blocked_gate
    assert not result.published
    failed = {failure.label: failure for failure in result.validation.failures}
    regex = failed["expect_column_values_to_not_match_regex_list(text)"]
    assert regex.unexpected_count == 2 and regex.examples  # examples are shown, masked
    assert any("AK…(20 chars)" in example for example in regex.examples)
    assert failed["check:no_pii_left(text)"].unexpected_count == 4


def test_no_planted_secret_in_reports_data_docs_ops_tables_or_summary(blocked_gate):
    config, result, report = blocked_gate
    quality_dir = config.lake.root / "_quality"
    files = [path for path in quality_dir.rglob("*") if path.is_file()]
    assert report in files and any("data_docs" in str(path) for path in files)
    assert any(path.suffix == ".json" and "validations" in str(path) for path in files)  # GE's stored results
    leaks = []
    for path in files:
        data = path.read_bytes()
        leaks += [f"{path.relative_to(quality_dir)}: {secret[:6]}" for secret in PLANTED if secret.encode() in data]
    ops_text = "\n".join(_ops_table_strings(config))
    assert "regex_list(text)" in ops_text  # the failure is recorded…
    leaks += [f"ops table: {secret[:6]}" for secret in PLANTED if secret in ops_text]  # …without its secret
    summary = "\n".join(result.summary_lines())
    leaks += [f"summary: {secret[:6]}" for secret in PLANTED if secret in summary]
    assert not leaks, leaks
