"""Completion events: write-ahead log, idempotent Delta MERGE (delta-rs), acceptance report."""

from datetime import UTC, datetime

import pandas as pd
import pytest
from deltalake import DeltaTable

from serving.events.report import acceptance_table, plot_acceptance
from serving.events.sink import EVENTS_TABLE, EventSink, events_dir, merge_events
from serving.events.wal import WalLockedError, WriteAheadLog


def row(event_id, event="shown", model="m1", language="python", chars=None):
    return {"event_id": event_id, "completion_id": "c-" + event_id, "event": event, "language": language,
            "accepted_chars": chars, "completion_chars": 10, "latency_ms": 12.5, "mode": "line",
            "model_id": model, "model_run_id": None, "gold_table_version": 2, "api_key_id": None,
            "request_user": None, "occurred_at": datetime.now(UTC), "server_id": "test"}


def test_wal_keeps_rows_across_reopen_and_skips_a_torn_line(tmp_path):
    wal = WriteAheadLog(tmp_path)
    wal.append([row("a"), row("b")])
    with pytest.raises(WalLockedError):
        WriteAheadLog(tmp_path)  # one server per log
    wal.close()
    with open(tmp_path / "current.jsonl", "a") as handle:
        handle.write('{"event_id": "torn", "compl')  # a crash mid-write
    reopened = WriteAheadLog(tmp_path)
    reopened.seal()
    [segment] = reopened.segments()
    rows = reopened.read(segment)
    assert [r["event_id"] for r in rows] == ["a", "b"]
    assert isinstance(rows[0]["occurred_at"], datetime)
    reopened.close()


def test_merge_is_idempotent(tmp_path):
    path = str(tmp_path / "events")
    merge_events(path, [row("a"), row("b"), row("a")])
    merge_events(path, [row("b"), row("c")])
    ids = sorted(DeltaTable(path).to_pyarrow_table().column("event_id").to_pylist())
    assert ids == ["a", "b", "c"]


def test_sink_replays_what_a_dead_process_left(lake_config):
    folder = events_dir(lake_config)
    wal = WriteAheadLog(folder)
    wal.append([row("left-behind")])
    wal.seal()
    wal.append([row("unsealed")])
    wal.close()  # as if the process died: one sealed segment, one current file
    sink = EventSink(lake_config).start()
    try:
        table = DeltaTable(str(lake_config.lake.table_path(EVENTS_TABLE)))
        assert sorted(table.to_pyarrow_table().column("event_id").to_pylist()) == ["left-behind", "unsealed"]
        sink.add([row("new")])
    finally:
        sink.close()  # flushes
    assert DeltaTable(str(lake_config.lake.table_path(EVENTS_TABLE))).to_pyarrow_table().num_rows == 3
    assert list(folder.glob("segment-*")) == []


def test_acceptance_table_and_plot(tmp_path):
    events = pd.DataFrame([
        row("1"), row("2"), row("3"), row("4", "accepted", chars=10), row("5", "partially_accepted", chars=4),
        row("6", "dismissed"), row("7", model="m2"), row("8", "accepted", model="m2", chars=2),
        row("9", language=None),
    ])
    table = acceptance_table(events)
    m1 = table[(table.model_id == "m1") & (table.language == "python")].iloc[0]
    assert (m1.shown, m1.accepted, m1.partially_accepted, m1.dismissed) == (3, 1, 1, 1)
    assert m1.acceptance_rate == pytest.approx(2 / 3) and m1.mean_accepted_chars == pytest.approx(7.0)
    assert table[table.model_id == "m2"].iloc[0].acceptance_rate == 1.0
    assert "(unknown)" in set(table.language)
    png = plot_acceptance(table, tmp_path / "a.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
