"""Every expectation of every suite fails on a crafted bad batch (and passes on a good one).

Value expectations (not-null, uniqueness, value sets, ranges, patterns, column pairs, row
counts, the column set) run through Great Expectations itself, on pandas batches: GE's pandas
engine evaluates these the way its Spark engine does, in milliseconds. Type expectations
need Spark types and the cross-row checks need Spark: both are covered on Spark in
tests/integration/test_quality_expectations_spark.py. A new expectation without a crafted
violation here fails ``test_every_value_expectation_has_a_violation``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from data_platform.contracts import all_contracts, contract
from data_platform.quality.suites import ExpectationSpec, build_suite
from tests.conftest import make_config
from tests.fixtures.expectations import GOOD_ROWS, SPARK_ONLY, good_rows, violate

_CONFIG = make_config(Path("/nonexistent-lake"), "quality.languages=[python,go]")
TABLES = list(all_contracts())


@pytest.fixture(scope="module")
def validate():
    """Run a list of specs on a pandas DataFrame with Great Expectations; {label: result dict}."""
    from data_platform.quality.gx_runner import ge_expectation, import_gx
    from data_platform.quality.results import expectation_label

    gx = import_gx()
    context = gx.get_context(mode="ephemeral")
    batch = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
    counter = iter(range(10_000))

    def run(specs: list[ExpectationSpec], rows: list[dict], columns: list[str]):
        import pandas as pd

        name = f"s{next(counter)}"
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=[ge_expectation(s.type, s.kwargs) for s in specs]))
        definition = gx.ValidationDefinition(name=name, data=batch, suite=suite)
        frame = pd.DataFrame(rows, columns=columns)
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        out = {}
        for item in result.results:
            data = item.to_json_dict()
            cfg = data["expectation_config"]
            out[expectation_label(cfg["type"], {k: v for k, v in cfg["kwargs"].items() if k != "batch_id"})] = data
        return out

    return run


def _value_specs(table: str) -> list[ExpectationSpec]:
    return [s for s in build_suite(table, _CONFIG).expectations if s.type not in SPARK_ONLY]


BATCH_LEVEL = ("expect_table_row_count_to_be_between", "expect_table_columns_to_match_set")


def test_every_value_expectation_has_a_violation():
    for table in TABLES:
        rows = good_rows(table, _value_specs(table), 2)
        for spec in _value_specs(table):
            if spec.type not in BATCH_LEVEL:
                assert violate(table, spec, dict(rows[1]), rows[0]), f"{table}: no violation for {spec.label}"


@pytest.mark.parametrize("table", TABLES)
def test_each_expectation_passes_on_good_rows_and_fails_on_its_own_bad_row(table, validate):
    specs = _value_specs(table)
    row_specs = [s for s in specs if s.type not in BATCH_LEVEL]
    columns = contract(table).column_names
    # Distinct good rows; then row GOOD_ROWS + k is made to fail row_specs[k] only.
    rows = good_rows(table, specs, GOOD_ROWS + len(row_specs))
    on_good = validate(specs, rows, columns)
    assert all(r["success"] for r in on_good.values()), [k for k, r in on_good.items() if not r["success"]]
    for k, spec in enumerate(row_specs):
        violate(table, spec, rows[GOOD_ROWS + k], rows[0])
    on_bad = validate(row_specs, rows, columns)
    for spec in row_specs:
        result = on_bad[spec.label]
        assert not result["success"], f"{table}: {spec.label} did not fail on its crafted row"
        assert not result["exception_info"].get("raised_exception"), result["exception_info"]
        count = result["result"].get("unexpected_count")
        if "unique" in spec.type:  # both copies are flagged (and a wider key's copy may collide too)
            assert count >= 2, (spec.label, result["result"])
        elif "pair" in spec.type:  # GE also flags pairs with one side null (the not-null rows)
            assert [0, 5] in [list(map(int, pair)) for pair in result["result"]["partial_unexpected_list"]
                              if None not in pair], result["result"]
        else:  # exactly its own row
            assert count == 1, (spec.label, result["result"])


@pytest.mark.parametrize("table", TABLES)
def test_row_count_and_column_set_fail_on_an_empty_batch_with_a_column_missing(table, validate):
    specs = [s for s in build_suite(table, _CONFIG).expectations if s.type in BATCH_LEVEL]
    columns = contract(table).column_names[:-1]  # the last contract column is missing
    result = validate(specs, [], columns)
    assert specs and not any(r["success"] for r in result.values())
