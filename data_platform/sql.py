"""SQL against the lake: statement splitting, execution, error messages and result rendering."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa


class SqlError(RuntimeError):
    """A query failed; the message is Spark's own, shortened to one or two lines."""


@dataclass
class QueryResult:
    statement: str
    table: pa.Table
    truncated: bool  # more rows existed than were fetched


def split_statements(text: str) -> list[str]:
    """Split a script on semicolons that are outside quotes and comments."""
    statements, current, quote, i = [], [], None, 0
    while i < len(text):
        char = text[i]
        if quote:
            current.append(char)
            if char == quote:
                quote = None
        elif char in ("'", '"', "`"):
            quote = char
            current.append(char)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end == -1 else end
            continue
        elif char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current))
    return [statement.strip() for statement in statements if statement.strip()]


def short_error(err: Exception) -> str:
    """Spark's message without the JVM stack trace: the first meaningful line or two."""
    lines = [line.rstrip() for line in str(err).splitlines() if line.strip()]
    lines = [line for line in lines if not line.lstrip().startswith(("at ", "JVM stacktrace", "=="))]
    message = lines[0] if lines else type(err).__name__
    # Parse errors put the offending SQL with a caret on the following lines; keep one.
    if len(lines) > 1 and ("SQL" in lines[1] or "line" in lines[1].lower()) and len(lines[1]) < 200:
        message += "\n" + lines[1]
    return message


class RestrictedTableError(SqlError):
    """A statement reads or changes a restricted table without being allowed to."""


def _relation_names(plan_text: str) -> list[list[str]]:
    """Multi-part names of the relations in a parsed plan (``'UnresolvedRelation [bronze, files], …``)."""
    return [
        [part.strip().strip("`").lower() for part in match.split(",")]
        for match in re.findall(r"Unresolved(?:Relation|Identifier|TableOrView|Table) \[([^\]]*)\]", plan_text)
    ]


def restricted_guard(spark, restricted: dict[str, str]):
    """A check run before each statement: refuses any that names a restricted table.

    ``restricted`` maps table names (``bronze.files``) to their storage paths. A statement is
    refused when its parsed plan names one (by catalog name, with or without the catalog, or
    as the current database's table) or its path (``delta.`/lake/bronze/files```), and, for
    queries, when the analyzed plan reaches one through a view. This is a guard against
    accidents in a shared SQL tool, not a security boundary: whoever can read the files can
    read the table (docs/security.md).
    """
    names = {name.lower() for name in restricted}

    def hits(text: str, relations: list[list[str]]) -> list[str]:
        database = spark.catalog.currentDatabase().lower()
        found = set()
        for parts in relations:
            qualified = ".".join(parts[-2:]) if len(parts) >= 2 else f"{database}.{parts[0]}"
            if qualified in names:
                found.add(qualified)
        found |= {name for name, path in restricted.items() if path.rstrip("/") in text}
        return sorted(found)

    def check(statement: str) -> None:
        try:
            parsed = spark._jsparkSession.sessionState().sqlParser().parsePlan(statement).toString()
        except Exception:  # a syntax error: Spark reports it in its own words when the statement runs
            return
        found = hits(parsed, _relation_names(parsed))
        if not found and statement.lstrip().lower().startswith(("select", "with", "from", "table", "values")):
            try:
                analyzed = spark.sql(statement)._jdf.queryExecution().analyzed().toString()
            except Exception:  # an invalid query fails with Spark's own message when it runs
                analyzed = ""
            found = hits(analyzed, [])
            found += [name for name in names if f"spark_catalog.{name}" in analyzed.lower() and name not in found]
        if found:
            raise RestrictedTableError(
                f"{', '.join(found)} {'is' if len(found) == 1 else 'are'} restricted (raw or unredacted data): "
                "pass --allow-restricted if your account is meant to read it"
            )

    return check


def run_statement(spark, statement: str, max_rows: int | None = 1000, guard=None) -> QueryResult:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        if guard is not None:
            guard(statement)
        df = spark.sql(statement)
        if max_rows is None:
            return QueryResult(statement, df.toArrow(), truncated=False)
        table = df.limit(max_rows + 1).toArrow()
    except (PySparkException, Py4JJavaError) as err:
        raise SqlError(short_error(err)) from None
    truncated = table.num_rows > max_rows
    return QueryResult(statement, table.slice(0, max_rows) if truncated else table, truncated)


def run_script(spark, text: str, max_rows: int | None = 1000, guard=None) -> Iterator[QueryResult]:
    """Run each statement in turn; stops at the first failing one (raises SqlError)."""
    for statement in split_statements(text):
        yield run_statement(spark, statement, max_rows, guard)


def _display_value(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(_json_value(value), ensure_ascii=False)
    text = str(value)
    return text.replace("\n", "\\n")


def _json_value(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list):
        # Arrow maps arrive as lists of (key, value) tuples.
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {str(k): _json_value(v) for k, v in value}
        return [_json_value(item) for item in value]
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def render_text(table: pa.Table, max_width: int = 60) -> str:
    """An aligned plain-text table (numbers right-aligned), like a SQL shell prints."""
    names = table.column_names
    rows = [[_display_value(v) for v in row.values()] for row in table.to_pylist()]
    rows = [[cell if len(cell) <= max_width else cell[: max_width - 1] + "…" for cell in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in rows]) for i, name in enumerate(names)]
    numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in table.schema.types]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return " | ".join(padded).rstrip()

    separator = "-+-".join("-" * w for w in widths)
    body = [line(row) for row in rows]
    count = f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
    return "\n".join([line(list(names)), separator, *body, count])


def render_csv(table: pa.Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(["" if v is None else json.dumps(_json_value(v)) if isinstance(v, (list, dict)) else
                         _json_value(v) for v in row.values()])
    return out.getvalue()


def render_json(table: pa.Table) -> str:
    """A JSON array of row objects; binary as base64, timestamps ISO 8601."""
    rows = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


RENDERERS = {"table": render_text, "csv": render_csv, "json": render_json}
