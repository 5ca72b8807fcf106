"""Table contracts: the files under ``schemas/`` are the single source of every table's shape.

A contract names a table's columns (type, nullability, description), keys and partitioning.
Spark schemas, Arrow schemas (for delta-rs writers), Great Expectations suites and the docs
are all derived from it, so a column is added in exactly one place.

Column types use Spark's DDL spelling: ``string``, ``binary``, ``boolean``, ``int``,
``bigint``, ``double``, ``float``, ``date``, ``timestamp``, ``array<T>``, ``map<K,V>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"

_ARROW_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "binary": pa.binary(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "float": pa.float32(),
    "date": pa.date32(),
    # Delta stores timestamps as microseconds, adjusted to UTC.
    "timestamp": pa.timestamp("us", tz="UTC"),
}


class ContractError(ValueError):
    pass


class UnknownColumnsError(ContractError):
    """A write offered columns the table's contract does not have (nothing was written)."""


def _split_type_args(inner: str) -> list[str]:
    """Split ``K,V`` at top-level commas only (``map<string,array<int>>`` has nested ones)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += char == "<"
        depth -= char == ">"
        if char == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def arrow_type(type_name: str) -> pa.DataType:
    """Translate a contract type (Spark DDL spelling) to an Arrow type."""
    text = type_name.strip().lower()
    if text in _ARROW_SCALARS:
        return _ARROW_SCALARS[text]
    if text.startswith("array<") and text.endswith(">"):
        return pa.list_(arrow_type(text[len("array<") : -1]))
    if text.startswith("map<") and text.endswith(">"):
        args = _split_type_args(text[len("map<") : -1])
        if len(args) != 2:
            raise ContractError(f"map type needs two arguments: {type_name!r}")
        return pa.map_(arrow_type(args[0]), arrow_type(args[1]))
    raise ContractError(f"unsupported column type {type_name!r}")


def spark_type(type_name: str):
    """Translate a contract type to a Spark DataType (imports pyspark lazily)."""
    from pyspark.sql import types as T

    scalars = {
        "string": T.StringType(),
        "binary": T.BinaryType(),
        "boolean": T.BooleanType(),
        "int": T.IntegerType(),
        "bigint": T.LongType(),
        "double": T.DoubleType(),
        "float": T.FloatType(),
        "date": T.DateType(),
        "timestamp": T.TimestampType(),
    }
    text = type_name.strip().lower()
    if text in scalars:
        return scalars[text]
    if text.startswith("array<") and text.endswith(">"):
        return T.ArrayType(spark_type(text[len("array<") : -1]), containsNull=True)
    if text.startswith("map<") and text.endswith(">"):
        key, value = _split_type_args(text[len("map<") : -1])
        return T.MapType(spark_type(key), spark_type(value), valueContainsNull=True)
    raise ContractError(f"unsupported column type {type_name!r}")


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: str
    nullable: bool = True
    description: str = ""

    @model_validator(mode="after")
    def _known_type(self) -> Column:
        arrow_type(self.type)
        return self


class TableContract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    keys: list[str]
    partition_by: list[str] = Field(default_factory=list)
    restricted: bool = False
    columns: list[Column]
    # Semantic checks beyond what the columns imply, consumed by the quality gate.
    expectations: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> TableContract:
        database, dot, table = self.name.partition(".")
        if not dot or not database or not table:
            raise ValueError(f"table name {self.name!r} must be <database>.<table>")
        names = [column.name for column in self.columns]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"duplicate columns {sorted(duplicates)}")
        unknown = [key for key in (*self.keys, *self.partition_by) if key not in names]
        if unknown:
            raise ValueError(f"keys/partition columns {unknown} are not columns")
        return self

    @property
    def database(self) -> str:
        return self.name.split(".")[0]

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def version(self) -> str:
        """Fingerprint of the table's shape (column names, types, nullability), recorded in the lake.

        Derived, not hand-bumped: any change to a column changes it, so a table whose recorded
        version matches its contract needs no schema comparison (see data_platform.migrations).
        """
        shape = [[c.name, "".join(c.type.lower().split()), c.nullable] for c in self.columns]
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]

    def check_columns(self, names: Iterable[str]) -> None:
        """Refuse columns the contract lacks: a write never drops data silently."""
        known = set(self.column_names)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UnknownColumnsError(
                f"{self.name} has no column(s) {unknown}: drop internal columns by name before writing, "
                f"or add them to schemas/{self.name}.yaml (existing lakes gain them on their next write "
                "or with `codemill tables migrate`)"
            )

    def spark_ddl(
        self, names: Iterable[str] | None = None, types: Mapping[str, str] | None = None, sep: str = " "
    ) -> str:
        """``name type, ...`` of some columns (all by default), e.g. a createDataFrame or mapInArrow schema.

        ``types`` overrides a column's type where rows arrive in another form first (an ISO
        date string parsed to a timestamp after the frame is built); ``sep=":"`` spells the
        fields of a ``struct<...>``.
        """
        types = types or {}
        return ", ".join(f"`{name}`{sep}{types.get(name, self.column(name).type)}" for name in names or self.column_names)

    def arrow_fields(self, names: Iterable[str]) -> list[pa.Field]:
        """Arrow fields of some columns, all nullable: for intermediate batches that carry them
        before every value is known (the table's own nullability is checked on write)."""
        return [pa.field(name, arrow_type(self.column(name).type), True) for name in names]

    def spark_schema(self):
        from pyspark.sql import types as T

        return T.StructType(
            [T.StructField(c.name, spark_type(c.type), c.nullable, {"comment": c.description}) for c in self.columns]
        )

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, arrow_type(c.type), c.nullable) for c in self.columns])


def load_contract_file(path: Path) -> TableContract:
    try:
        data = yaml.safe_load(path.read_text())
        return TableContract.model_validate(data)
    except (yaml.YAMLError, ValueError) as err:
        raise ContractError(f"invalid contract {path.name}: {err}") from err


@cache
def all_contracts(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, TableContract]:
    """Every contract under ``schemas/``, keyed by table name, in layer order."""
    contracts = [load_contract_file(path) for path in sorted(schemas_dir.glob("*.yaml"))]
    layer = {"bronze": 0, "silver": 1, "gold": 2, "ops": 3}
    contracts.sort(key=lambda c: (layer.get(c.database, 9), c.name))
    return {contract.name: contract for contract in contracts}


def columns_markdown(contracts: dict[str, TableContract] | None = None) -> str:
    """docs/tables.md: every table's columns, rendered from the contracts (a test keeps it in sync)."""
    contracts = contracts or all_contracts()
    lines = [
        "# Table columns",
        "",
        "Generated from `schemas/*.yaml` by `codemill tables docs > docs/tables.md`; do not edit by hand",
        "(`tests/unit/test_contract_docs.py` fails when this file and the contracts differ).",
    ]
    for table in contracts.values():
        keys = ", ".join(f"`{key}`" for key in table.keys)
        extra = f"; partitioned by {', '.join(table.partition_by)}" if table.partition_by else ""
        restricted = " **Restricted.**" if table.restricted else ""
        lines += ["", f"## {table.name}", "", " ".join(table.description.split()) + restricted, "",
                  f"Keys: {keys}{extra}.", "", "| column | type | null | description |", "|---|---|---|---|"]
        for c in table.columns:
            description = c.description.replace("|", "\\|")
            lines.append(f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | {description} |")
    return "\n".join(lines) + "\n"


def contract(table_name: str) -> TableContract:
    contracts = all_contracts()
    if table_name not in contracts:
        raise ContractError(f"unknown table {table_name!r}; known: {', '.join(contracts)}")
    return contracts[table_name]
