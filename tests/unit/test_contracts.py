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
    assert "content" in tables["bronze.file_contents"].column_names
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


def test_raw_bytes_only_in_the_restricted_contents_table():
    """Raw bytes live in bronze.file_contents alone; bronze.files is metadata anyone may query."""
    for name, table in all_contracts().items():
        if "content" in table.column_names:
            assert name == "bronze.file_contents" and table.restricted
    assert not all_contracts()["bronze.files"].restricted
    contents, files = all_contracts()["bronze.file_contents"], all_contracts()["bronze.files"]
    assert contents.keys == files.keys and {"file_id", "blob_sha"} <= set(contents.column_names)
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


def test_generated_spark_and_arrow_schemas_agree_on_types():
    """Arrow (delta-rs writers) and Spark (Spark writers) read the same contract the same way."""
    from pyspark.sql.pandas.types import from_arrow_schema

    for table in all_contracts().values():
        from_arrow = from_arrow_schema(table.arrow_schema())
        spark = table.spark_schema()
        assert [f.dataType.simpleString() for f in from_arrow.fields] == [
            f.dataType.simpleString() for f in spark.fields
        ], table.name
        assert [f.nullable for f in from_arrow.fields] == [f.nullable for f in spark.fields], table.name


def test_contract_version_changes_with_any_column_change_only():
    from data_platform.contracts import contract

    base = contract("ops.eval_results")
    data = base.model_dump()
    assert TableContract.model_validate({**data, "description": "reworded"}).version == base.version
    retyped = {**data, "columns": [{**c, "type": "float"} if c["name"] == "value" else c for c in data["columns"]]}
    added = {**data, "columns": [*data["columns"], {"name": "extra", "type": "string"}]}
    versions = {base.version, TableContract.model_validate(retyped).version, TableContract.model_validate(added).version}
    assert len(versions) == 3


def test_unknown_columns_are_refused_by_name():
    from data_platform.contracts import UnknownColumnsError, contract

    table = contract("bronze.files")
    table.check_columns(["repo_id", "size_bytes"])
    with pytest.raises(UnknownColumnsError, match=r"no column\(s\) \['content'\].*schemas/bronze.files.yaml"):
        table.check_columns(["repo_id", "content"])


def test_stage_shapes_come_from_the_contracts():
    """Crawl and curate batches carry the contract's columns with the contract's types."""
    from data_platform.contracts import contract
    from data_platform.ingest.crawl import CRAWL_WORKING_COLUMNS, CRAWLED_SCHEMA
    from data_platform.ingest.curate import CURATED_SCHEMA, SILVER_COLUMNS

    bronze = contract("bronze.files").arrow_schema()
    contents = contract("bronze.file_contents").arrow_schema()
    for field in CRAWLED_SCHEMA:
        if field.name not in CRAWL_WORKING_COLUMNS:
            table = contents if field.name == "content" else bronze
            assert table.field(field.name).type == field.type
    assert set(bronze.names) - set(CRAWLED_SCHEMA.names) == {"run_id", "crawled_at"}
    assert set(contents.names) - set(CRAWLED_SCHEMA.names) == {"file_id", "run_id", "crawled_at"}
    silver = contract("silver.files").arrow_schema()
    assert [(n, CURATED_SCHEMA.field(n).type) for n in SILVER_COLUMNS] == [(n, silver.field(n).type) for n in SILVER_COLUMNS]
    functions = CURATED_SCHEMA.field("functions").type.value_type
    assert [f.name for f in functions] + ["run_id"] == contract("silver.functions").column_names
