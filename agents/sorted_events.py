"""The events of JSON Lines files in event-time order, in bounded memory.

Replay needs its input sorted by event time, stable for equal times (file order, then line
order). Two ways, one order:

- **Input already in time order** (every file on its own, as exports and ``churnwatch simulate``
  write them) is merged lazily across files (``heapq.merge`` of one reader per file): nothing is
  held. Whether a file is in order is found by a quick scan of its ``ts`` fields first, done only
  when the input is too big for one chunk (a scan costs about a third of parsing; spilling costs
  more than parsing).
- **Anything else** is read and parsed once, in chunks of at most ``chunk_events`` events: a
  chunk is sorted in memory and, when more input follows, spilled to a temporary file; the
  sorted runs are then merged lazily. Input that fits in one chunk is never spilled.

Peak memory follows the chunk size (``--max-memory``), never the input size.
"""

from __future__ import annotations

import heapq
import math
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

import orjson

from rules.acknowledgement import Acknowledgement, parse_line_object
from streams.errors import BadInput
from streams.events import Event
from streams.parse import Limits, parse_line, parse_ts

EVENT_BYTES = 480  # what one parsed event costs in memory while a chunk is sorted (measured: ~460)
LINE_BYTES = 140  # a typical JSON Lines event on disk: a file of N bytes holds about N / 140 events
DEFAULT_MAX_MEMORY_MB = 128
SPILL_BATCH = 1024  # events per pickled batch of a spilled run

Key = tuple[float, int, int]  # event time, file index, line number: the stable order
Row = tuple[Any, ...]  # what sort_in_chunks sorts: by its first item


@dataclass(slots=True)
class BadLine:
    file: str
    line: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}: {self.detail}"


def chunk_events(max_memory_mb: float) -> int:
    """Events per sorted chunk for a memory budget."""
    return max(1000, int(max_memory_mb * 1024 * 1024 / EVENT_BYTES))


Parse = Callable[[bytes, Limits], Any]


def _parse_event(line: bytes, limits: Limits) -> Event:
    return parse_line(line, limits=limits)


def parse_replay_line(line: bytes, limits: Limits) -> Event | Acknowledgement:
    """An event line, or an acknowledgement line (``"type": "acknowledgement"``, replay only)."""
    if b'"acknowledgement"' in line:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and obj.get("type") == "acknowledgement":
            return parse_line_object(obj)
    return parse_line(line, limits=limits)


def _parsed(
    paths: Iterable[Path], limits: Limits, bad: list[BadLine], first: int = 0, parse: Parse = _parse_event
) -> Iterator[tuple[Key, Event]]:
    for index, path in enumerate(paths, first):
        with path.open("rb") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    event = parse(line, limits)
                except BadInput as exc:
                    bad.append(BadLine(str(path), number, exc.reason.value, exc.detail))
                    continue
                yield (event.ts, index, number), event


def _spill(chunk: list[Row], folder: str) -> Path:
    """Write a sorted chunk as pickled batches (each batch on its own: nothing is memoised across)."""
    with tempfile.NamedTemporaryFile("wb", dir=folder, suffix=".run", delete=False) as fh:
        for start in range(0, len(chunk), SPILL_BATCH):
            pickle.dump(chunk[start : start + SPILL_BATCH], fh, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(fh.name)


def read_run(path: Path, buffering: int = -1) -> Iterator[Any]:
    """The items of a run of pickled batches (a spilled chunk here, a group's alerts in
    ``agents.alert_runs``), one batch in memory at a time; the file goes when it is read.
    ``buffering``: bytes read ahead (-1: the default)."""
    with path.open("rb", buffering=buffering) as fh:
        while True:
            try:
                batch: list[Any] = pickle.load(fh)
            except EOFError:
                break
            yield from batch
    path.unlink(missing_ok=True)


def in_time_order(path: Path) -> bool:
    """True when the ``ts`` of the file's lines never decrease (lines without a readable ``ts`` are
    passed over: they are bad lines, reported when the file is parsed)."""
    last = -math.inf
    with path.open("rb") as fh:
        for line in fh:
            try:
                ts = parse_ts(orjson.loads(line)["ts"])
            except (orjson.JSONDecodeError, BadInput, KeyError, TypeError):
                continue
            if ts < last:
                return False
            last = ts
    return True


def _fits_one_chunk(paths: list[Path], size: int) -> bool:
    return sum(p.stat().st_size for p in paths) < size * LINE_BYTES


def sorted_events(
    paths: Iterable[Path], limits: Limits, bad: list[BadLine], *, max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
) -> Iterator[Event]:
    """Every good event of the files by event time (stable); bad lines are appended to ``bad``
    as they are read (all of them once the iterator is exhausted)."""
    return _sorted(paths, limits, bad, max_memory_mb, _parse_event)


def sorted_replay_items(
    paths: Iterable[Path], limits: Limits, bad: list[BadLine], *, max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
) -> Iterator[Event | Acknowledgement]:
    """As :func:`sorted_events`, with the acknowledgement lines replay accepts among the events."""
    return cast(Iterator[Event | Acknowledgement], _sorted(paths, limits, bad, max_memory_mb, parse_replay_line))


def _sorted(
    paths: Iterable[Path], limits: Limits, bad: list[BadLine], max_memory_mb: float, parse: Parse
) -> Iterator[Event]:
    size = chunk_events(max_memory_mb)
    paths = list(paths)
    if not _fits_one_chunk(paths, size) and all(in_time_order(p) for p in paths):
        readers = [_parsed([p], limits, bad, index, parse) for index, p in enumerate(paths)]
        for _, event in heapq.merge(*readers, key=itemgetter(0)):
            yield event
        return
    with tempfile.TemporaryDirectory(prefix="churnwatch-replay-") as folder:
        for _, event in sort_in_chunks(_parsed(paths, limits, bad, parse=parse), size, folder):
            yield event


def sort_in_chunks(items: Iterable[Row], size: int, folder: str) -> Iterator[Row]:
    """Tuples by their first item (stable), sorted in chunks of at most ``size``: a chunk is
    spilled to a file in ``folder`` when more items follow, and the sorted runs are merged lazily."""
    chunk: list[Row] = []
    runs: list[Iterator[Row]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            chunk.sort(key=itemgetter(0))
            runs.append(read_run(_spill(chunk, folder)))
            chunk = []
    chunk.sort(key=itemgetter(0))
    if not runs:
        yield from chunk
        return
    runs.append(iter(chunk))
    yield from heapq.merge(*runs, key=itemgetter(0))


class SortedInput:
    """The files' good events in time order, as a collection that can be iterated again: each pass
    streams them anew (in bounded memory, as :func:`sorted_events`), for commands that go over
    the history several times (backtest: labels, each pack, the baselines; fit). Bad lines are
    collected on the first pass only; ``len`` and ``last_time`` are known after it."""

    def __init__(
        self, paths: Iterable[Path], limits: Limits, bad: list[BadLine], max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
    ) -> None:
        self.paths = list(paths)
        self.limits = limits
        self.bad = bad
        self.max_memory_mb = max_memory_mb
        self.count: int | None = None
        self.last_time: float | None = None

    def __iter__(self) -> Iterator[Event]:
        first = self.count is None
        bad = self.bad if first else []
        n, last = 0, None
        for event in sorted_events(self.paths, self.limits, bad, max_memory_mb=self.max_memory_mb):
            n += 1
            last = event.ts
            yield event
        self.count, self.last_time = n, last

    def __len__(self) -> int:
        """Events of a full pass (an estimate from the files' sizes before the first pass)."""
        if self.count is not None:
            return self.count
        return sum(p.stat().st_size for p in self.paths) // LINE_BYTES

    def read_all(self) -> SortedInput:
        """One pass now (bad lines reported, count and last time known); returns self."""
        for _ in self:
            pass
        return self
