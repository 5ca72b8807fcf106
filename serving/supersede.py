"""Request groups: an editor's newer request cancels its older ones.

Editors send one completion request per keystroke; only the newest matters. A request with
header ``X-Request-Group: <int>`` belongs to the group of its caller (API key) and ``user``;
a higher number supersedes every running request of the group with a lower one (they are
cancelled and answer 409 ``superseded``), and a request arriving with a number lower than
one already seen is refused at once (it lost a race on the network).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class Superseded(Exception):
    def __init__(self, sequence: int, newer: int) -> None:
        super().__init__(f"superseded by a newer request of the same user (X-Request-Group {newer} > {sequence})")
        self.sequence = sequence
        self.newer = newer


@dataclass
class _Group:
    newest: int
    running: dict[int, list] = field(default_factory=dict)  # sequence -> cancel callbacks


class RequestGroups:
    def __init__(self, max_groups: int = 100_000) -> None:
        self._groups: dict[tuple[str, str], _Group] = {}
        self._lock = threading.Lock()
        self.max_groups = max_groups

    def enter(self, caller: str, user: str, sequence: int, cancel) -> None:
        """Register a running request; cancels older ones, raises Superseded if this one is old."""
        to_cancel = []
        with self._lock:
            group = self._groups.get((caller, user))
            if group is None:
                if len(self._groups) >= self.max_groups:  # forget idle groups rather than grow forever
                    for key in [k for k, g in self._groups.items() if not g.running]:
                        del self._groups[key]
                group = self._groups[(caller, user)] = _Group(sequence)
            if sequence < group.newest:
                raise Superseded(sequence, group.newest)
            if sequence > group.newest:
                for older in [s for s in group.running if s < sequence]:
                    to_cancel.extend((older, callback) for callback in group.running.pop(older))
                group.newest = sequence
            group.running.setdefault(sequence, []).append(cancel)
        for older, callback in to_cancel:
            callback(Superseded(older, sequence))

    def leave(self, caller: str, user: str, sequence: int, cancel) -> None:
        with self._lock:
            group = self._groups.get((caller, user))
            if group is None:
                return
            callbacks = group.running.get(sequence, [])
            if cancel in callbacks:
                callbacks.remove(cancel)
            if not callbacks:
                group.running.pop(sequence, None)
