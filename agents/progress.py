"""Which input offsets of one partition are already in its changelogged state.

A worker that crashes, stops or loses a partition in a rebalance leaves Kafka's committed offsets
behind what its state already holds (offsets are committed after the state's changelog, and with
the event clock an event may be applied long after later offsets of its topic). The messages
after the committed offset are then delivered again, to this worker or to the partition's next
owner. ``Progress`` records, per input topic, the offsets whose effect (a state change, a
duplicate, a dead letter) is in the state, as a few ranges; it is written to the changelog right
after the customers it covers (``agents.partition_store``), so a redelivered message is known as
handled, and skipped, whatever its event time: never applied twice, never judged too late.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import orjson

MAX_RANGES = 4096  # per topic; a gap older than these stays open (its message, when it comes, is applied)


class OffsetRanges:
    """Disjoint half-open ranges ``[start, end)`` of handled offsets, sorted; below ``floor`` all are handled."""

    __slots__ = ("ends", "floor", "starts")

    def __init__(self, floor: int = 0, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self.floor = floor
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in ranges:
            self.starts.append(start)
            self.ends.append(end)

    def __contains__(self, offset: int) -> bool:
        if offset < self.floor:
            return True
        i = bisect.bisect_right(self.starts, offset) - 1
        return i >= 0 and offset < self.ends[i]

    def add(self, offset: int) -> None:
        if offset in self:
            return
        starts, ends = self.starts, self.ends
        i = bisect.bisect_right(starts, offset)  # ranges[i - 1] starts at or before offset
        joins_left = i > 0 and ends[i - 1] == offset
        joins_right = i < len(starts) and starts[i] == offset + 1
        if joins_left and joins_right:
            ends[i - 1] = ends[i]
            del starts[i], ends[i]
        elif joins_left:
            ends[i - 1] = offset + 1
        elif joins_right:
            starts[i] = offset
        else:
            starts.insert(i, offset)
            ends.insert(i, offset + 1)
            if len(starts) > MAX_RANGES:  # keep it bounded: forget the oldest range
                del starts[0], ends[0]

    def raise_floor(self, floor: int) -> None:
        """Every offset below ``floor`` is handled (Kafka committed it for this group)."""
        if floor <= self.floor:
            return
        self.floor = floor
        while self.starts and self.ends[0] <= floor:
            del self.starts[0], self.ends[0]

    def as_list(self) -> list[list[int]]:
        return [[s, e] for s, e in zip(self.starts, self.ends, strict=True)]


class Progress:
    """The handled offsets of one partition, for each input topic."""

    def __init__(self) -> None:
        self.topics: dict[str, OffsetRanges] = {}
        self.changed = False

    def seen(self, topic: str, offset: int) -> bool:
        ranges = self.topics.get(topic)
        return ranges is not None and offset in ranges

    def add(self, topic: str, offset: int) -> None:
        if offset < 0:
            return
        ranges = self.topics.get(topic)
        if ranges is None:
            ranges = self.topics[topic] = OffsetRanges()
        ranges.add(offset)
        self.changed = True

    def raise_floor(self, topic: str, floor: int) -> None:
        ranges = self.topics.get(topic)
        if ranges is not None and floor > ranges.floor:
            ranges.raise_floor(floor)
            self.changed = True

    def encode(self) -> bytes:
        return orjson.dumps({"v": 1, "topics": {t: [r.floor, r.as_list()] for t, r in self.topics.items()}})

    @classmethod
    def decode(cls, data: bytes | None) -> Progress:
        progress = cls()
        if not data:
            return progress
        obj = orjson.loads(data)
        for topic, (floor, ranges) in obj.get("topics", {}).items():
            progress.topics[topic] = OffsetRanges(int(floor), ((int(s), int(e)) for s, e in ranges))
        return progress
