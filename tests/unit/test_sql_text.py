import datetime as dt
import json

import pyarrow as pa

from data_platform.sql import render_csv, render_json, render_text, short_error, split_statements


def test_statements_split_on_semicolons_outside_quotes_and_comments():
    script = "SELECT 'a;b' AS x; -- comment; here\nSELECT `c;d` FROM t;\n\n"
    assert split_statements(script) == ["SELECT 'a;b' AS x", "SELECT `c;d` FROM t"]


def test_text_table_aligns_numbers_right_and_marks_nulls():
    table = pa.table({"name": ["a", "long name"], "n": [1, 12345], "v": [None, 2.5]})
    lines = render_text(table).splitlines()
    assert lines[0].split("|")[0].strip() == "name"
    assert lines[2].endswith("NULL")
    assert lines[2].index("1") == lines[3].index("12345") + 4  # right-aligned
    assert lines[-1] == "(2 rows)"


def test_json_and_csv_encode_binary_maps_and_timestamps():
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    table = pa.table({
        "b": pa.array([b"\x00\x01"], pa.binary()),
        "m": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
        "t": pa.array([stamp], pa.timestamp("us", tz="UTC")),
    })
    rows = json.loads(render_json(table))
    assert rows == [{"b": "AAE=", "m": {"k": 1}, "t": "2026-01-02T03:04:05+00:00"}]
    assert render_csv(table).splitlines() == ["b,m,t", 'AAE=,"{""k"": 1}",2026-01-02T03:04:05+00:00']


def test_short_error_drops_jvm_stack_trace():
    err = RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.\n\tat org.apache.Foo(Foo.scala:1)\n"
                       "JVM stacktrace:\norg.apache.spark.sql.AnalysisException")
    assert short_error(err) == "[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found."
