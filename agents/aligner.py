"""Event-time alignment of the four input topics of one partition (event clock only).

Faust reads the four topics of a partition independently, so a burst of logins can arrive well
ahead of the orders of the same days. With the event clock, applying them in arrival order would
move the partition's clock past events still unread on another topic (they would then be too
late, and ticks would run before them). The aligner holds parsed events and releases them in
event-time order up to the partition's watermark (``agents.watermark``; the consumer's view of a
topic's end lags the broker a little, and the idle grace keeps a fast backfill in order). Held
events are not acknowledged: when the partition is revoked or the worker stops, they are simply
dropped and Kafka delivers them again to the partition's next owner.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agents.watermark import Watermark
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
        self.marks = Watermark(topics, idle_seconds)
        self.heap: list[Held] = []
        self.seq = 0

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
        self.marks.observe(topic, event.ts)

    def drop_topic(self, topic: str) -> None:
        """Forget the held events of ``topic``, and how far it had reached: it is read again."""
        self.heap = [held for held in self.heap if held.topic != topic]
        heapq.heapify(self.heap)
        self.marks.reset(topic)

    def watermark(self, caught_up: Callable[[str], bool]) -> float:
        return self.marks.value(caught_up)

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
