"""The watermark of one partition: how far in event time every one of its inputs has reached.

Lateness is judged against it (contract section 3), and with the event clock the aligner releases
events up to it. Each input topic contributes the latest event time read from it; the watermark is
the lowest of them, so a topic running ahead (a sparse topic during a catch-up, say) never makes
the events of a slower one late. A topic that is caught up (nothing unread that the consumer knows
of) and has brought nothing new for ``idle_seconds`` holds nothing back, as stream processors do
with idle sources; a topic with unread messages and nothing read yet holds everything back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable


class Watermark:
    def __init__(self, topics: Iterable[str], idle_seconds: float = 2.0) -> None:
        self.latest: dict[str, float | None] = dict.fromkeys(topics)
        self.idle_seconds = idle_seconds
        created = time.monotonic()
        self.arrived: dict[str, float] = dict.fromkeys(self.latest, created)

    def observe(self, topic: str, ts: float) -> None:
        """An event of ``topic`` at event time ``ts`` was read."""
        self.arrived[topic] = time.monotonic()
        seen = self.latest.get(topic)
        if seen is None or ts > seen:
            self.latest[topic] = ts

    def idle(self, topic: str, caught_up: Callable[[str], bool], now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return now - self.arrived.get(topic, 0.0) >= self.idle_seconds and caught_up(topic)

    def value(self, caught_up: Callable[[str], bool]) -> float:
        """The lowest latest time of the topics that are not idle (+inf when all are idle)."""
        marks: list[float] = []
        now = time.monotonic()
        for topic, seen in self.latest.items():
            if self.idle(topic, caught_up, now):
                continue
            if seen is None:
                return -math.inf
            marks.append(seen)
        return min(marks) if marks else math.inf
