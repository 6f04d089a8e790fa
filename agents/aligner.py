"""Event-time alignment of the four input topics of one partition (event clock only).

Faust reads the four topics of a partition independently, so a burst of logins can arrive well
ahead of the orders of the same days. With the event clock, applying them in arrival order would
move the partition's clock past events still unread on another topic (they would then be too
late, and ticks would run before them). The aligner holds parsed events and releases them in
event-time order up to the watermark: the lowest of the latest times seen on each topic that
still has unread messages. A topic that is caught up (nothing unread that the consumer knows of)
and has brought nothing new for ``idle_seconds`` does not hold the others back (the consumer's
view of a topic's end lags the broker a little; the grace keeps a fast backfill in order).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.events import Event


@dataclass(order=True, slots=True)
class Held:
    ts: float
    seq: int
    event: Event = field(compare=False)
    topic: str = field(compare=False)
    ack: Callable[[], Any] | None = field(compare=False, default=None)
    received: float = field(compare=False, default=0.0)
    origin: tuple[int, bytes | None, bytes | None] = field(
        compare=False, default=(-1, None, None)
    )  # offset, key, value


class Aligner:
    def __init__(self, topics: Iterable[str], idle_seconds: float = 2.0) -> None:
        self.latest: dict[str, float | None] = dict.fromkeys(topics)
        self.heap: list[Held] = []
        self.seq = 0
        self.idle_seconds = idle_seconds
        created = time.monotonic()
        self.arrived: dict[str, float] = dict.fromkeys(self.latest, created)

    def __len__(self) -> int:
        return len(self.heap)

    def add(
        self,
        topic: str,
        event: Event,
        ack: Callable[[], Any] | None,
        received: float,
        origin: tuple[int, bytes | None, bytes | None] = (-1, None, None),
    ) -> None:
        self.seq += 1
        heapq.heappush(self.heap, Held(event.ts, self.seq, event, topic, ack, received, origin))
        self.arrived[topic] = time.monotonic()
        seen = self.latest.get(topic)
        if seen is None or event.ts > seen:
            self.latest[topic] = event.ts

    def idle(self, topic: str, caught_up: Callable[[str], bool]) -> bool:
        return time.monotonic() - self.arrived.get(topic, 0.0) >= self.idle_seconds and caught_up(topic)

    def watermark(self, caught_up: Callable[[str], bool]) -> float:
        marks: list[float] = []
        for topic, seen in self.latest.items():
            if self.idle(topic, caught_up):
                continue
            if seen is None:
                return -math.inf  # a topic with unread messages and nothing seen yet holds everything
            marks.append(seen)
        return min(marks) if marks else math.inf

    def release(self, caught_up: Callable[[str], bool]) -> list[Held]:
        """The held events up to the watermark, in event-time order (stable)."""
        if not self.heap:
            return []
        mark = self.watermark(caught_up)
        out: list[Held] = []
        heap = self.heap
        while heap and heap[0].ts <= mark:
            out.append(heapq.heappop(heap))
        return out
