"""Lakes upgrade in place: a Delta table made by an earlier release is brought up to its contract.

What can be done safely is done, on the first write of a process (``lake.ensure_table`` for
Spark writers, ``ops.records`` for delta-rs writers) or for the whole lake with
``codemill tables migrate``:

* a table that does not exist yet is created;
* a nullable column the contract gained is added (old rows read it as null);
* the contract's shape fingerprint is recorded in the table property
  ``codemill.contract_version`` when a table is created (:func:`create_table`) or upgraded, so
  a later check of a matching table stops at the property (``ops.*`` tables that a delta-rs
  writer created on its first append carry none: their check compares schemas). A table that
  already matches its contract gets no commit just to record it: a new version of
  gold.training_corpus with the same rows would look like an unvalidated gold version to the
  gate and to training.

What would lose or reinterpret data is refused with a message saying what to do, never done
silently: a column the contract no longer has, a changed type, a new required column.

The table's current schema is read from its Delta log with delta-rs (no Spark job), in Delta's
own type names, and compared with the contract in the contract's spelling.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from data_platform.contracts import Column, ContractError, TableContract
from data_platform.storage import delta_table, is_remote, list_names

log = logging.getLogger(__name__)

VERSION_PROPERTY = "codemill.contract_version"

# Delta log primitive names → the contract's (Spark DDL) spelling.
_DELTA_PRIMITIVES = {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint"}


class MigrationRefused(ContractError):
    """The table differs from its contract in a way that cannot be upgraded without losing data."""


def is_delta_table(path: Path | str) -> bool:
    """Whether a Delta table is at ``path`` that this account can read; a table behind a storage
    permission (``<lake>/restricted/`` at mode 700 for another account) counts as absent."""
    if is_remote(path):  # an object store has no folders: list the log's objects
        return any(name.endswith(".json") for name in list_names(f"{str(path).rstrip('/')}/_delta_log"))
    log_dir = Path(path) / "_delta_log"
    try:
        return log_dir.is_dir() and any(log_dir.glob("*.json"))
    except PermissionError:
        return False


def delta_type_name(delta_type) -> str:
    """A Delta log type (a name, or an array/map/struct object) in the contract's spelling."""
    if isinstance(delta_type, str):
        return _DELTA_PRIMITIVES.get(delta_type, delta_type)
    kind = delta_type.get("type")
    if kind == "array":
        return f"array<{delta_type_name(delta_type['elementType'])}>"
    if kind == "map":
        return f"map<{delta_type_name(delta_type['keyType'])},{delta_type_name(delta_type['valueType'])}>"
    if kind == "struct":
        inner = ",".join(f"{f['name']}:{delta_type_name(f['type'])}" for f in delta_type["fields"])
        return f"struct<{inner}>"
    return json.dumps(delta_type)


def _spelling(type_name: str) -> str:
    return "".join(type_name.lower().split())


@dataclass(frozen=True)
class TablePlan:
    """How one lake table differs from its contract, and what an upgrade would do."""

    name: str
    path: str
    exists: bool
    contract_version: str
    recorded_version: str | None = None
    add: tuple[Column, ...] = ()
    refused: tuple[str, ...] = ()

    @property
    def current(self) -> bool:
        return self.exists and not self.add and not self.refused

    def changes(self) -> list[str]:
        """What an upgrade does, one line each (empty when the table is current)."""
        if not self.exists:
            return ["create table"]
        lines = [f"add column {c.name} {c.type} (nullable; existing rows read null)" for c in self.add]
        if lines:
            lines.append(f"record {VERSION_PROPERTY}={self.contract_version}")
        return lines

    def refusal(self) -> str:
        return (
            f"{self.name} at {self.path} cannot be upgraded in place: " + "; ".join(self.refused) + ". "
            "Nothing was changed. Either restore the contract in schemas/" + self.name + ".yaml, or move the "
            "data yourself (copy the table out, recreate it with `codemill tables init`, write the rows back "
            "converted): a lake upgrade never drops or reinterprets stored data."
        )


def plan_table(table: TableContract, path: Path | str) -> TablePlan:
    """Compare the Delta table at ``path`` with its contract (a metadata read, no data scanned)."""
    base = TablePlan(table.name, str(path), exists=False, contract_version=table.version)
    if not is_delta_table(path):
        return base
    delta = delta_table(path)
    recorded = (delta.metadata().configuration or {}).get(VERSION_PROPERTY)
    if recorded == table.version:
        return TablePlan(table.name, str(path), True, table.version, recorded)
    stored = {field["name"]: field for field in json.loads(delta.schema().to_json())["fields"]}
    add, refused = [], []
    for column in table.columns:
        field = stored.get(column.name)
        if field is None:
            if column.nullable:
                add.append(column)
            else:
                refused.append(f"new column {column.name!r} is required (nullable: false) but existing rows have "
                               "no value for it; declare it nullable: true")
        elif _spelling(delta_type_name(field["type"])) != _spelling(column.type):
            refused.append(f"column {column.name!r} is {delta_type_name(field['type'])} in the table but "
                           f"{column.type} in the contract (types are never changed in place)")
    for name in stored:
        if name not in set(table.column_names):
            refused.append(f"column {name!r} is in the table but not in the contract (columns are never dropped "
                           "in place)")
    return TablePlan(table.name, str(path), True, table.version, recorded, tuple(add), tuple(refused))


def table_schema(table: TableContract):
    """The contract as an Arrow schema with each column's description as its Delta ``comment``,
    what Spark's ``CREATE TABLE … COMMENT`` stores."""
    import pyarrow as pa

    from data_platform.contracts import arrow_type

    return pa.schema([
        pa.field(c.name, arrow_type(c.type), c.nullable, metadata={"comment": c.description}) for c in table.columns
    ])


def create_table(table: TableContract, path: Path | str) -> None:
    """Create the table at ``path`` from its contract with delta-rs, without Spark (idempotent).

    The log is the one Spark's ``CREATE TABLE delta.`path` (… NOT NULL COMMENT …) COMMENT …
    TBLPROPERTIES (…)`` writes: the same schema, nullability, comments, description, partition
    columns, protocol (1/2) and properties, the contract version among them
    (tests/integration/test_lake_create.py compares the two for every contract). Creating a
    table is then a commit of a few milliseconds instead of a Spark job, and `codemill tables
    init` needs no JVM. Catalog names are given by the next Spark session
    (``lake.register_lake_tables``).
    """
    from deltalake import DeltaTable

    from data_platform.storage import delta_options

    DeltaTable.create(
        str(path),
        table_schema(table),
        mode="ignore",  # already there (another writer, or a rerun): left as it is
        partition_by=list(table.partition_by) or None,
        description=table.description.strip(),
        # Plain features only: delta-rs, DuckDB (via delta-rs) and Ray Data must read every table.
        configuration={"delta.enableDeletionVectors": "false", VERSION_PROPERTY: table.version},
        storage_options=delta_options(str(path)),
        raise_if_key_not_exists=False,  # our own property is not a Delta key
    )


def _comment(column: Column) -> str:
    return column.description.replace("\\", "\\\\").replace("'", "\\'")


def upgrade_with_spark(spark, table: TableContract, plan: TablePlan) -> TablePlan:
    """Apply an existing table's plan with Spark SQL (ALTER TABLE … ADD COLUMNS, then the version)."""
    if plan.refused:
        raise MigrationRefused(plan.refusal())
    target = f"delta.`{plan.path}`"
    if plan.add:
        # One column at a time, each placed after its predecessor in the contract, so the table
        # keeps the contract's column order (SELECT * reads like the docs).
        names = table.column_names
        for column in plan.add:
            index = names.index(column.name)
            place = f"AFTER `{names[index - 1]}`" if index else "FIRST"
            spark.sql(f"ALTER TABLE {target} ADD COLUMNS (`{column.name}` {column.type.upper()} "
                      f"COMMENT '{_comment(column)}' {place})")
        _log_added(plan)
        spark.sql(f"ALTER TABLE {target} SET TBLPROPERTIES ('{VERSION_PROPERTY}' = '{plan.contract_version}')")
    return plan


def upgrade_with_delta_rs(table: TableContract, plan: TablePlan) -> TablePlan:
    """The same upgrade through delta-rs, for writers that never start a JVM (ops rows, serving).

    delta-rs appends new columns at the end; readers select by name, so only ``SELECT *``
    shows the difference.
    """
    from deltalake import Schema

    if plan.refused:
        raise MigrationRefused(plan.refusal())
    delta = delta_table(plan.path)
    if plan.add:
        import pyarrow as pa

        from data_platform.contracts import arrow_type

        arrow = pa.schema([pa.field(c.name, arrow_type(c.type), True) for c in plan.add])
        delta.alter.add_columns(list(Schema.from_arrow(arrow).fields))
        _log_added(plan)
        delta.alter.set_table_properties({VERSION_PROPERTY: plan.contract_version}, raise_if_not_exists=False)
    return plan


def _log_added(plan: TablePlan) -> None:
    log.warning("upgraded %s in place: added column(s) %s (existing rows read null)",
                plan.name, ", ".join(c.name for c in plan.add))
