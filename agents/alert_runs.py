"""Sorted runs of alerts on disk, and their merge: how a grouped replay (``agents.replay_groups``)
puts the alerts of its groups back in the order one engine would have written them.

Each alert is written with its key, its place in that order (:data:`Key`):

- an event's alert: ``(ts, EVENT, seq, "")`` (``seq``: its line's number across the input files,
  in input order);
- a tick's alert at time ``M``: ``(M, TICK, 0, customer_id)`` (a tick at M runs before the
  events stamped M, and evaluates its customers in id order);
- the final tick's alert: ``(inf, FINAL, 0, customer_id)``, after everything.

A group writes its alerts in key order (its own events in input order, its ticks in between), so
each group's file is a sorted run; :func:`merge_runs` merges the runs lazily (``heapq.merge``).
"""

from __future__ import annotations

import heapq
import math
import pickle
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import IO, Final

from agents.sorted_events import read_run

TICK: Final = 0
EVENT: Final = 1
FINAL: Final = 2
FINAL_TIME: Final = math.inf
READ_BUFFER: Final = 4096  # bytes read ahead per run while merging (every run is open then)
BATCH: Final = 8  # alerts per pickled batch: the merge holds one batch of each run (8 x ~1.4 kB x groups)

Key = tuple[float, int, int, str]
Keyed = tuple[Key, bytes]


class RunWriter:
    """Appends keyed alerts (already serialised, one JSON line each) to a run file in batches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._batch: list[Keyed] = []
        self._fh: IO[bytes] = path.open("ab")

    def add(self, key: Key, line: bytes) -> None:
        self._batch.append((key, line))
        if len(self._batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            pickle.dump(self._batch, self._fh, protocol=pickle.HIGHEST_PROTOCOL)
            self._batch = []

    def close(self) -> None:
        self.flush()
        self._fh.close()


def merge_runs(runs: list[Path]) -> Iterator[bytes]:
    """The alerts of sorted runs in key order."""
    readers: list[Iterator[Keyed]] = [read_run(p, READ_BUFFER) for p in runs if p.exists()]
    for _, line in heapq.merge(*readers, key=itemgetter(0)):
        yield line
