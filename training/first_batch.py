"""The first micro-batch of a fresh run, pulled while DeepSpeed initialises.

A fresh stream's first batch waits for Ray Data to start reading, to start its tokeniser
actors and to pack a block (25 s of the demo's first step on 2 cores), while
``deepspeed.initialize`` and the rest of the set-up (~25 s) need nothing from the stream. A
thread pulls the first batch meanwhile. The loop then goes on with the same iterator, so
nothing is read twice or skipped; a resumed run does not use this (its position is only known
once the checkpoint is loaded).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any


class FirstBatch:
    """Starts pulling ``batches``' first item at once; :meth:`batches` gives the whole iterator back."""

    def __init__(self, batches: Iterator[Any]) -> None:
        self._batches = batches
        self._first: list[Any] = []  # the first item, once pulled (empty: the stream had none)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._pull, name="codemill-first-batch", daemon=True)
        self._thread.start()

    def _pull(self) -> None:
        try:
            self._first.append(next(self._batches))
        except StopIteration:
            pass
        except BaseException as err:  # noqa: BLE001 - re-raised in the training thread by batches()
            self._error = err

    def batches(self) -> Iterator[Any]:
        """Every item, the first one included; waits for the first pull and raises what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return itertools.chain(self._first, self._batches)
