"""Read-only fast path for `codemill sql`: DuckDB over delta-rs snapshots, no JVM.

Spark answers everything, but starting it costs ~20 s and a warm Spark query is tens of
times slower than DuckDB on a small lake. A read-only query over the lake's own Delta tables
needs neither: sqlglot translates the Spark SQL into DuckDB SQL, each table reference is
replaced by a delta-rs snapshot (``VERSION AS OF`` / ``TIMESTAMP AS OF`` pick the version),
and DuckDB runs it over the snapshots (a local snapshot's Parquet files read by DuckDB itself; an
object-store snapshot as delta-rs' Arrow dataset, read with the lake's storage options).

``plan_fast`` decides, without running anything, whether this path can answer a statement
with Spark's results; when it cannot it raises ``NotFastPathable`` with the reason, and the
caller runs the statement on Spark instead (writes, DDL, views and unknown names, paths that
are not local, functions sqlglot does not know, result columns whose Spark name it cannot
reproduce). Restricted tables are refused here as on Spark: every table reference in the
parsed tree is resolved (names, ``delta.`/path``` in any subquery or CTE) before the query
runs, and anything that does not resolve to a known lake table (or a local ``delta.`` path)
goes to Spark, whose own plan check then applies (docs/decisions/0180-sql-fast-path.md,
0177 for object-store lakes).

Nothing here imports pyspark: a query answered on this path starts no JVM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from data_platform.sql import RestrictedTableError, SqlError
from data_platform.storage import Location, is_remote

# Statement roots the fast path may run: queries only (SELECT, WITH … SELECT, set operations).
_SPARK_AGGREGATE_NAMES = {"Count": "count", "Sum": "sum", "Avg": "avg", "Min": "min", "Max": "max"}
# Scalar functions whose Spark column name is their lower-case name and arguments.
_SPARK_SCALAR_NAMES = {"Lower": "lower", "Upper": "upper", "Length": "length", "Coalesce": "coalesce",
                       "Abs": "abs"}
# Functions that DuckDB would run as file reads; the fast path reads only delta-rs snapshots.
_FILE_FUNCTIONS = {"ReadCSV", "ReadParquet", "ToFile"}

# The query set both engines are held to (tests/integration/test_sql_engines.py) and timed on
# (benchmarks/sql_latency.py): the shapes people type while exploring a lake.
REFERENCE_QUERIES = {
    "count": "SELECT count(*) FROM silver.files",
    "group_by": "SELECT language, count(*) AS n, avg(size_bytes) AS mean_bytes, max(line_count) "
                "FROM silver.files GROUP BY language ORDER BY n DESC, language",
    "join": "SELECT r.repo_name, r.license_spdx, count(*) AS files, sum(f.size_bytes) AS bytes "
            "FROM silver.files f JOIN bronze.repos r ON f.repo_id = r.repo_id "
            "GROUP BY r.repo_name, r.license_spdx ORDER BY r.repo_name",
    "version_as_of": "SELECT count(*) AS n, min(path) AS first_path FROM silver.files VERSION AS OF 0",
    "to_json": "SELECT to_json(struct(*)) AS row_json FROM bronze.repos ORDER BY row_json",
    "order_limit_nulls": "SELECT path, drop_reason, dup_cluster_id FROM silver.files "
                         "ORDER BY drop_reason, dup_cluster_id DESC, path LIMIT 7",
    "timestamps": "SELECT repo_name, commit_date, crawled_at FROM bronze.repos ORDER BY repo_name",
    "nested": "SELECT run_id, sources, stage_counts, sources[0] AS first_source, size(sources) AS n_sources "
              "FROM ops.ingest_runs ORDER BY run_id",
    "functions": "SELECT language, kind, count(*) AS n, max(end_line - start_line) AS longest "
                 "FROM silver.functions GROUP BY language, kind ORDER BY language, kind",
    "cte_filter": "WITH big AS (SELECT repo_id, path, size_bytes FROM silver.files WHERE size_bytes > 100) "
                  "SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS bytes FROM big",
}


class NotFastPathable(Exception):
    """The fast path cannot answer this statement exactly as Spark would; the reason says why."""


@dataclass(frozen=True)
class TableRead:
    """One table reference of a statement, resolved to a lake table (local or object store) or a local path."""

    label: str  # the name or path as written, for messages
    path: Location
    version: int | None = None
    timestamp: str | None = None


@dataclass
class FastPlan:
    statement: str
    duckdb_sql: str
    reads: dict[str, TableRead] = field(default_factory=dict)  # DuckDB relation name → snapshot


def _sqlglot():
    import sqlglot
    from sqlglot import exp

    return sqlglot, exp


def _local_path(text: str) -> Path:
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif "://" in text or text.startswith(("s3a:", "s3:", "gs:", "abfss:", "hdfs:")):
        raise NotFastPathable(f"{text} is not on local disk")
    return Path(text).expanduser().resolve()


def _is_restricted(read: TableRead, name: str | None, restricted: dict[str, Location]) -> str | None:
    if name is not None and name in restricted:
        return name
    for table, path in restricted.items():
        # A local path never lies inside an object-store prefix, nor a URI inside a folder.
        if type(read.path) is type(path) and (read.path == path or read.path.is_relative_to(path)):
            return table
    return None


def _time_travel(exp, table) -> tuple[int | None, str | None]:
    version = table.args.get("version")
    if version is None:
        return None, None
    kind = str(version.this).upper()
    value = version.expression
    if str(version.args.get("kind", "AS OF")).upper() != "AS OF" or not isinstance(value, exp.Literal):
        raise NotFastPathable("time travel other than VERSION/TIMESTAMP AS OF a literal")
    if kind == "VERSION" and not value.is_string:
        return int(value.this), None
    if kind == "TIMESTAMP" and value.is_string:
        return None, value.this
    raise NotFastPathable(f"time travel {kind} AS OF {value.sql()}")


def _spark_name(exp, node) -> str | None:
    """The column name Spark gives an un-aliased projection, or None when not reproduced here."""
    if isinstance(node, exp.Column):
        return None if isinstance(node.this, exp.Star) else node.name
    if isinstance(node, exp.Literal):
        return node.this
    if isinstance(node, exp.Null):
        return "NULL"
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    kind = type(node).__name__
    if kind in _SPARK_AGGREGATE_NAMES:
        arg = node.this
        distinct = isinstance(arg, exp.Distinct)
        args = arg.expressions if distinct else [arg]
        if kind == "Count" and len(args) == 1 and isinstance(args[0], exp.Star):
            return "count(1)"
        names = [_spark_name(exp, a) for a in args]
        if None in names or not names:
            return None
        return f"{_SPARK_AGGREGATE_NAMES[kind]}({'DISTINCT ' if distinct else ''}{', '.join(names)})"
    if kind in _SPARK_SCALAR_NAMES:
        names = [_spark_name(exp, a) for a in [node.this, *node.expressions]]
        return None if None in names else f"{_SPARK_SCALAR_NAMES[kind]}({', '.join(names)})"
    return None


def _name_projections(exp, select) -> None:
    """Alias every un-aliased projection as Spark names it, so both engines print the same header."""
    named = []
    for projection in select.expressions:
        if isinstance(projection, exp.Alias) or isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)):
            named.append(projection)
            continue
        name = _spark_name(exp, projection)
        if name is None:
            raise NotFastPathable(f"the column name Spark gives {projection.sql(dialect='spark')} (add an alias)")
        if isinstance(projection, exp.Column) and projection.name == name:
            named.append(projection)
        else:
            named.append(exp.alias_(projection, name, quoted=True))
    select.set("expressions", named)


def _json_value(exp, field: pa.Field, value):
    """A struct field as Spark's to_json writes it; unsupported types go to Spark."""
    kind = field.type
    if pa.types.is_timestamp(kind):  # Spark: yyyy-MM-dd'T'HH:mm:ss.SSSXXX, Z in its UTC session
        return exp.Anonymous(this="strftime", expressions=[value, exp.Literal.string("%Y-%m-%dT%H:%M:%S.%gZ")])
    plain = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_boolean,
             pa.types.is_date32)
    if any(test(kind) for test in plain) or (
            pa.types.is_list(kind) and any(test(kind.value_type) for test in plain)):
        return value
    raise NotFastPathable(f"to_json of a {kind} column (Spark's number and binary formats differ)")


def _expand_struct_star(exp, tree, schemas: dict[str, pa.Schema]) -> None:
    """``struct(*)`` → ``struct(a, b, …)`` over the one table the query reads (DuckDB has no struct(*)).

    Inside ``to_json`` the fields are also written as Spark writes them, and the JSON text goes
    through ``codemill_spark_json`` (null fields dropped, compact), so both engines print the
    same text.
    """
    for struct in list(tree.find_all(exp.Struct)):
        if not any(isinstance(e, exp.Star) for e in struct.expressions):
            continue
        if len(schemas) != 1:
            raise NotFastPathable("struct(*) over more than one table")
        (schema,) = schemas.values()
        in_json = isinstance(struct.parent, exp.JSONFormat)
        fields = []
        for column in schema:
            value = exp.column(column.name, quoted=True)
            fields.append(exp.PropertyEQ(this=exp.to_identifier(column.name, quoted=True),
                                         expression=_json_value(exp, column, value) if in_json else value))
        struct.set("expressions", fields)
        if in_json:
            struct.parent.meta["codemill_spark_json"] = True
    for to_json in list(tree.find_all(exp.JSONFormat)):
        if not to_json.meta.get("codemill_spark_json"):
            raise NotFastPathable("to_json of anything but struct(*) (field formats are only matched there)")
        to_json.replace(exp.Anonymous(this="codemill_spark_json", expressions=[to_json.copy()]))


def spark_json(text: str) -> str:
    """DuckDB's to_json text as Spark's: null object fields dropped, no spaces."""
    import json

    def drop_nulls(value):
        if isinstance(value, dict):
            return {k: drop_nulls(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [drop_nulls(v) for v in value]
        return value

    return json.dumps(drop_nulls(json.loads(text)), ensure_ascii=False, separators=(",", ":"))


def plan_fast(statement: str, tables: dict[str, Location], restricted: dict[str, Location],
              schema_of=None) -> FastPlan:
    """Translate one Spark SQL statement for DuckDB, or raise NotFastPathable / RestrictedTableError.

    ``tables`` maps the lake's table names (``silver.files``) to their Delta paths (only tables
    that exist); ``restricted`` maps restricted table names to their paths. ``schema_of(read)``
    gives a snapshot's Arrow schema, needed only to expand ``struct(*)``.
    """
    sqlglot, exp = _sqlglot()
    from sqlglot.errors import SqlglotError

    tree = _parse_read_only(sqlglot, exp, statement)
    plan = FastPlan(statement, "")
    schemas = _route_tables(exp, tree, plan, tables, restricted, schema_of)
    if schema_of is None and any(isinstance(e, exp.Star) for s in tree.find_all(exp.Struct) for e in s.expressions):
        raise NotFastPathable("struct(*) needs the table's schema")
    _expand_struct_star(exp, tree, schemas)
    for select in tree.find_all(exp.Select):
        if select is tree or (isinstance(tree, exp.SetOperation) and select is tree.left):
            _name_projections(exp, select)
    try:
        plan.duckdb_sql = tree.sql(dialect="duckdb")
    except SqlglotError as err:
        raise NotFastPathable(f"no DuckDB translation ({str(err).splitlines()[0]})") from None
    return plan


def _parse_read_only(sqlglot, exp, statement: str):
    """The statement's one parsed tree, if it is a read-only query the translator knows every part of."""
    from sqlglot.errors import SqlglotError

    try:
        trees = sqlglot.parse(statement, read="spark")
    except SqlglotError as err:
        raise NotFastPathable(f"sqlglot cannot parse it ({str(err).splitlines()[0]})") from None
    if len(trees) != 1 or trees[0] is None:
        raise NotFastPathable("not exactly one statement")
    tree = trees[0]
    if not isinstance(tree, exp.Query):
        raise NotFastPathable(f"{type(tree).__name__.upper()} is not a read-only query")
    for node in tree.walk():
        if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
            raise NotFastPathable(f"function {node.name} is not known to the translator")
        if type(node).__name__ in _FILE_FUNCTIONS:  # DuckDB would read the file itself: Spark decides
            raise NotFastPathable(f"{type(node).__name__} reads files outside the lake's tables")
        if isinstance(node, (exp.Lateral, exp.Hint, exp.TableSample, exp.Command)):
            raise NotFastPathable(f"{type(node).__name__} has no exact DuckDB translation here")
        if isinstance(node, (exp.DDL, exp.DML)):
            raise NotFastPathable("writes or DDL inside the query")
    return tree


def _route_tables(exp, tree, plan: FastPlan, tables: dict[str, Location], restricted: dict[str, Location],
                  schema_of) -> dict[str, pa.Schema]:
    """Point every table reference at a snapshot relation in ``plan.reads``; refuse restricted ones.

    Returns the relations' Arrow schemas (when ``schema_of`` is given, for ``struct(*)``).
    """
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    restricted_hits: set[str] = set()
    schemas: dict[str, pa.Schema] = {}
    for index, table in enumerate(list(tree.find_all(exp.Table))):
        if not isinstance(table.this, exp.Identifier):
            raise NotFastPathable(f"table function {table.this.sql(dialect='spark')}")
        parts = [p.lower() for p in (table.catalog, table.db) if p]
        name = table.name
        if not parts and name.lower() in cte_names:
            continue  # a CTE of the statement itself: its own table references are resolved below
        read, catalog_name = _resolve(parts, name, tables, restricted)
        version, timestamp = _time_travel(exp, table)
        read = TableRead(read.label, read.path, version, timestamp)
        hit = _is_restricted(read, catalog_name, restricted)
        if hit:
            restricted_hits.add(hit)
            continue
        relation = f"__codemill_t{index}"
        plan.reads[relation] = read
        alias = table.alias or name  # columns qualified by the table's name keep working
        replacement = exp.Table(this=exp.to_identifier(relation, quoted=True),
                                alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        if table.args.get("alias") is not None and table.args["alias"].columns:
            replacement.set("alias", table.args["alias"])
        table.replace(replacement)
        if schema_of is not None:
            schemas[relation] = schema_of(read)
    if restricted_hits:
        found = sorted(restricted_hits)
        raise RestrictedTableError(
            f"{', '.join(found)} {'is' if len(found) == 1 else 'are'} restricted (raw or unredacted data): "
            "pass --allow-restricted if your account is meant to read it"
        )
    return schemas


def _resolve(parts: list[str], name: str, tables: dict[str, Location],
             restricted: dict[str, Location]) -> tuple[TableRead, str | None]:
    """A table reference → (snapshot to read, catalog name or None for a path)."""
    if parts == ["delta"]:
        path = _local_path(name)
        return TableRead(f"delta.`{name}`", path), None
    if parts and parts[0] == "spark_catalog":
        parts = parts[1:]
    if len(parts) != 1:
        raise NotFastPathable(f"{'.'.join([*parts, name])} is not a lake table (views and other catalogs: Spark)")
    qualified = f"{parts[0]}.{name.lower()}"
    if qualified not in tables and qualified in restricted:
        # Refused by name even where it is not on disk or not readable by this account (a
        # storage permission on <lake>/restricted/): the answer must not depend on the files.
        return TableRead(qualified, restricted[qualified]), qualified
    if qualified not in tables:
        raise NotFastPathable(f"{qualified} is not a lake table on disk (views and other tables: Spark)")
    return TableRead(qualified, tables[qualified]), qualified


class FastEngine:
    """DuckDB over the lake's snapshots, for one CLI call or a whole interactive session.

    Warm reuse without stale answers: the latest snapshot of a table is brought up to date
    (new commits in its log) once per script (``refresh``); a version's relation SQL and the
    DuckDB connections (one per set of readable folders, their configuration locked) are kept.
    """

    _MAX_CONNECTIONS = 8

    def __init__(self, tables: dict[str, Location], restricted: dict[str, Location] | None):
        self.tables = tables
        self.restricted = restricted or {}
        self._snapshots: dict[TableRead, object] = {}
        self._fresh: set[TableRead] = set()
        self._relations: dict[tuple[str, int], str] = {}
        # Object-store snapshots: DuckDB relation name → delta-rs Arrow dataset (registered per connection).
        self._datasets: dict[str, object] = {}
        self._connections: dict[frozenset, tuple[object, set]] = {}

    def refresh(self) -> None:
        """The next statements see commits made since the last script (another process may write)."""
        self._fresh.clear()

    def _snapshot(self, read: TableRead):
        latest = read.version is None and read.timestamp is None
        table = self._snapshots.get(read)
        if table is not None and (not latest or read in self._fresh):
            return table
        from data_platform.storage import delta_table

        try:
            if table is not None:
                table.update_incremental()
            else:
                table = delta_table(str(read.path))
                if read.version is not None:
                    table.load_as_version(read.version)
                elif read.timestamp is not None:
                    table.load_as_version(_spark_timestamp(read.timestamp))
        except Exception as err:  # not a Delta table, unknown version: Spark words the error
            raise NotFastPathable(f"delta-rs cannot read {read.label} ({str(err).splitlines()[0]})") from None
        self._snapshots[read] = table
        self._fresh.add(read)
        return table

    def plan(self, statement: str) -> FastPlan:
        return plan_fast(statement, self.tables, self.restricted,
                         schema_of=lambda read: pa.schema(self._snapshot(read).schema().to_arrow()))

    def _relation_sql(self, read: TableRead) -> str:
        table = self._snapshot(read)
        key = (str(read.path), table.version())
        if key not in self._relations:
            self._relations[key] = self._build_relation_sql(read)
        return self._relations[key]

    def _build_relation_sql(self, read: TableRead) -> str:
        """The snapshot as DuckDB SQL: its data files read natively, columns typed by the Delta schema.

        DuckDB reads the Parquet files the snapshot lists (no pyarrow dataset: importing it
        pulls in pandas, seconds of a cold start). Columns are cast to the Delta schema's
        types (Spark writes INT96 timestamps, which DuckDB reads without a zone), and columns
        added after a file was written read as NULL in it.
        """
        table = self._snapshot(read)
        protocol = table.protocol()
        if protocol.min_reader_version > 1 or table.metadata().partition_columns:
            raise NotFastPathable(f"{read.label} uses column mapping, deletion vectors or partitions")
        fields = list(pa.schema(table.schema().to_arrow()))
        types = {f.name: _duckdb_type(f.type) for f in fields}
        if is_remote(read.path):
            return self._dataset_relation_sql(read, table, fields, types)
        files = table.file_uris()
        if not files:
            columns = ", ".join(f'CAST(NULL AS {types[f.name]}) AS {_quote(f.name)}' for f in fields)
            return f"SELECT {columns} WHERE false"
        source = f"read_parquet([{', '.join(_literal(f) for f in files)}], union_by_name = true)"
        present = {row[0] for row in self._describe(source)}
        columns = ", ".join(
            f"CAST({_quote(f.name) if f.name in present else 'NULL'} AS {types[f.name]}) AS {_quote(f.name)}"
            for f in fields)
        return f"SELECT {columns} FROM {source}"

    def _dataset_relation_sql(self, read: TableRead, table, fields: list, types: dict[str, str]) -> str:
        """An object-store snapshot as DuckDB SQL over delta-rs' Arrow dataset of it.

        DuckDB reaches S3/GCS/Azure only through its httpfs/azure extensions, downloaded at first
        use (not offline, not in the lock). delta-rs already reads the store with the lake's
        storage options (storage.delta_options) and lists exactly the snapshot's files, so its
        dataset is the relation: DuckDB pushes projections and filters into the Arrow scan, and
        columns missing from older files read as NULL there. Casts as for local files.
        """
        import hashlib

        name = "__codemill_ds" + hashlib.sha1(f"{read.path}@{table.version()}".encode()).hexdigest()[:16]
        if name not in self._datasets:
            self._datasets[name] = table.to_pyarrow_dataset()
        columns = ", ".join(f"CAST({_quote(f.name)} AS {types[f.name]}) AS {_quote(f.name)}" for f in fields)
        return f"SELECT {columns} FROM {_quote(name)}"

    def _describe(self, source: str) -> list:
        import duckdb

        con = duckdb.connect()
        try:
            return con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
        finally:
            con.close()

    def _connection(self, folders: frozenset):
        """A DuckDB connection that can read only ``folders`` (its configuration locked)."""
        import duckdb

        if folders not in self._connections:
            if len(self._connections) >= self._MAX_CONNECTIONS:
                oldest = next(iter(self._connections))
                self._connections.pop(oldest)[0].close()
            con = duckdb.connect(config={"threads": 2})
            con.execute("SET TimeZone = 'UTC'")  # Spark's session time zone (data_platform/spark.py)
            con.create_function("codemill_spark_json", spark_json, ["VARCHAR"], "VARCHAR")
            # Only the folders of the statement's snapshots are readable, then the configuration is
            # locked: a translated function cannot reach another file, extension or Python object.
            con.execute("SET allowed_directories = $1", [sorted(folders)])
            con.execute("SET enable_external_access = false")
            con.execute("SET python_enable_replacements = false")
            con.execute("SET lock_configuration = true")
            self._connections[folders] = (con, set())
        return self._connections[folders]

    def run(self, plan: FastPlan, max_rows: int | None):
        """Run a planned statement; returns (Arrow table, truncated)."""
        import hashlib

        import duckdb

        relations = {relation: self._relation_sql(read) for relation, read in plan.reads.items()}
        # DuckDB itself reads local snapshots only; object-store ones arrive as Arrow datasets.
        folders = frozenset(str(read.path).rstrip("/") + "/" for read in plan.reads.values() if not is_remote(read.path))
        con, views = self._connection(folders)
        try:
            for name, dataset in self._datasets.items():
                if name not in views and any(_quote(name) in sql for sql in relations.values()):
                    con.register(name, dataset)
                    views.add(name)
            for relation, sql in relations.items():
                view = "__codemill_v" + hashlib.sha1(sql.encode()).hexdigest()[:16]
                if view not in views:  # one view per snapshot version, created once per connection
                    con.execute(f"CREATE TEMP VIEW {_quote(view)} AS {sql}")
                    views.add(view)
                con.execute(f"CREATE OR REPLACE TEMP VIEW {_quote(relation)} AS SELECT * FROM {_quote(view)}")
            sql = plan.duckdb_sql if max_rows is None else f"SELECT * FROM ({plan.duckdb_sql}) LIMIT {max_rows + 1}"
            table = con.sql(sql).to_arrow_table()
        except duckdb.Error as err:
            raise NotFastPathable(f"DuckDB: {str(err).splitlines()[0]}") from None
        table = spark_types(table)
        truncated = max_rows is not None and table.num_rows > max_rows
        return (table.slice(0, max_rows) if truncated else table), truncated


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duckdb_type(kind: pa.DataType) -> str:
    """DuckDB's spelling of a Delta column's Arrow type."""
    simple = [(pa.types.is_string, "VARCHAR"), (pa.types.is_large_string, "VARCHAR"),
              (pa.types.is_string_view, "VARCHAR"), (pa.types.is_int64, "BIGINT"), (pa.types.is_int32, "INTEGER"),
              (pa.types.is_int16, "SMALLINT"), (pa.types.is_int8, "TINYINT"), (pa.types.is_float64, "DOUBLE"),
              (pa.types.is_float32, "FLOAT"), (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_binary, "BLOB"),
              (pa.types.is_large_binary, "BLOB"), (pa.types.is_binary_view, "BLOB"), (pa.types.is_date32, "DATE")]
    for test, name in simple:
        if test(kind):
            return name
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return f"{_duckdb_type(kind.value_type)}[]"
    if pa.types.is_map(kind):
        return f"MAP({_duckdb_type(kind.key_type)}, {_duckdb_type(kind.item_type)})"
    if pa.types.is_struct(kind):
        return "STRUCT(" + ", ".join(f"{_quote(f.name)} {_duckdb_type(f.type)}" for f in kind) + ")"
    raise NotFastPathable(f"column type {kind} has no DuckDB mapping here")


def run_fast_script(engine: FastEngine, text: str, max_rows: int | None = 1000) -> list:
    """Every statement of a script on the fast path, or NotFastPathable before any runs.

    All statements are planned first, so a script is answered wholly by one engine; the
    results are only returned once all ran (a DuckDB error midway lets the caller rerun
    the whole read-only script on Spark).
    """
    from data_platform.sql import QueryResult, split_statements

    engine.refresh()
    plans = [engine.plan(statement) for statement in split_statements(text)]
    results = []
    for plan in plans:
        table, truncated = engine.run(plan, max_rows)
        results.append(QueryResult(plan.statement, table, truncated))
    return results


def _spark_timestamp(text: str) -> dt.datetime:
    """A TIMESTAMP AS OF literal read as Spark reads it: session time zone UTC."""
    value = dt.datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def spark_types(table: pa.Table) -> pa.Table:
    """DuckDB result types as Spark returns them: sum of integers is BIGINT there, HUGEINT here."""
    columns = []
    for column in table.columns:
        if pa.types.is_decimal(column.type) and column.type.scale == 0 and column.type.precision == 38:
            column = column.cast(pa.int64())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def local_tables(config) -> tuple[dict[str, Location], dict[str, Location]]:
    """(every contract table the lake holds → location, restricted contract tables → location).

    The lake may be local or on an object store (then each location is a LakeURI)."""
    from data_platform.contracts import all_contracts
    from data_platform.lake import is_delta_table

    tables = {}
    for name in all_contracts():
        path = config.lake.table_path(name).resolve()
        if is_delta_table(path):
            tables[name] = path
    return tables, {name: path.resolve() for name, path in config.lake.restricted_paths().items()}


__all__ = ["FastEngine", "FastPlan", "NotFastPathable", "SqlError", "local_tables", "plan_fast", "run_fast_script"]
