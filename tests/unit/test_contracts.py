import pyarrow as pa
import pytest

from data_platform.contracts import (
    ContractError,
    TableContract,
    all_contracts,
    arrow_type,
    load_contract_file,
    spark_type,
)

DESIGN_TABLES = {
    "bronze.repos", "bronze.files", "silver.files", "silver.functions", "gold.training_corpus",
    "ops.ingest_runs", "ops.ingest_errors", "ops.quality_results", "ops.training_runs", "ops.eval_results",
}


def test_every_design_table_has_a_contract():
    assert DESIGN_TABLES <= set(all_contracts())


def test_shared_column_names_are_used_exactly():
    tables = all_contracts()
    assert "content" in tables["bronze.files"].column_names
    for name in ("silver.files", "gold.training_corpus"):
        assert {"repo_id", "path", "language", "text", "license_spdx", "license_class"} <= set(tables[name].column_names)
    assert {"exact_dup_key", "dup_cluster_id", "dup_cluster_size", "is_dup_keeper", "drop_reason"} <= set(
        tables["silver.files"].column_names
    )
    assert {"file_id", "name", "kind", "signature", "docstring", "body", "start_line", "end_line"} <= set(
        tables["silver.functions"].column_names
    )
    assert {"table_name", "table_version", "success"} <= set(tables["ops.quality_results"].column_names)
    assert "split" in tables["gold.training_corpus"].column_names


def test_raw_bytes_only_in_bronze_and_bronze_files_is_restricted():
    for name, table in all_contracts().items():
        if "content" in table.column_names:
            assert name.startswith("bronze.")
    assert all_contracts()["bronze.files"].restricted
    # quarantined gold rows may still hold the PII that put them there
    quarantine = all_contracts()["gold.quarantine"]
    assert quarantine.restricted and "RESTRICTED" in quarantine.description


def test_nested_types_translate_to_arrow_and_spark():
    assert arrow_type("map<string,array<bigint>>") == pa.map_(pa.string(), pa.list_(pa.int64()))
    assert spark_type("map<string,array<bigint>>").simpleString() == "map<string,array<bigint>>"
    with pytest.raises(ContractError):
        arrow_type("varchar(10)")


def test_arrow_and_spark_schemas_agree_on_names_and_nullability():
    for table in all_contracts().values():
        arrow = table.arrow_schema()
        spark = table.spark_schema()
        assert arrow.names == [field.name for field in spark.fields] == table.column_names
        assert [f.nullable for f in arrow] == [f.nullable for f in spark.fields]
        for key in table.keys:
            assert key in table.column_names


def test_a_key_that_is_not_a_column_is_rejected(tmp_path):
    path = tmp_path / "x.y.yaml"
    path.write_text(
        "name: x.y\ndescription: d\nkeys: [missing]\ncolumns:\n  - {name: a, type: string}\n"
    )
    with pytest.raises(ContractError, match="not columns"):
        load_contract_file(path)
    with pytest.raises(ValueError):
        TableContract(name="nodot", description="d", keys=[], columns=[])
