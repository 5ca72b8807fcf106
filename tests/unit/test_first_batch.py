"""The first batch is pulled in the background, and the loop still sees every batch once, in order."""

from __future__ import annotations

import threading

import pytest

from training.first_batch import FirstBatch


def test_pulls_the_first_item_before_anyone_asks_and_keeps_the_order():
    pulled = threading.Event()

    def stream():
        pulled.set()
        yield from range(5)

    early = FirstBatch(stream())
    assert pulled.wait(timeout=10)  # started on its own, while the caller does something else
    assert list(early.batches()) == [0, 1, 2, 3, 4]


def test_only_the_first_item_is_pulled_early():
    taken = []

    def stream():
        for item in range(3):
            taken.append(item)
            yield item

    early = FirstBatch(stream())
    early._thread.join(timeout=10)
    assert taken == [0]  # the rest is read by the loop, at its own pace
    batches = early.batches()
    assert next(batches) == 0 and taken == [0]
    assert list(batches) == [1, 2] and taken == [0, 1, 2]


def test_an_empty_stream_gives_an_empty_iterator():
    assert list(FirstBatch(iter(())).batches()) == []


def test_an_error_of_the_first_pull_reaches_the_caller():
    def broken():
        raise OSError("table unreadable")
        yield  # pragma: no cover

    early = FirstBatch(broken())
    with pytest.raises(OSError, match="table unreadable"):
        early.batches()
