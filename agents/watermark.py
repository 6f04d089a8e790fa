"""The watermark of one partition: how far in event time every one of its inputs has reached.

Lateness is judged against it (contract section 3), and with the event clock the aligner releases
events up to it. Each input topic contributes the latest event time read from it; the watermark is
the lowest of them, so a topic running ahead (a sparse topic during a catch-up, say) never makes
the events of a slower one late. A topic that is caught up (nothing unread that the consumer knows
of) and has brought nothing new for ``idle_seconds`` holds nothing back, as stream processors do
with idle sources; a topic with unread messages and nothing read yet holds everything back.

Quiet counts only while the topic is seen caught up: time spent not caught up (the broker away,
its partition without a leader, messages unread) does not count. After an outage every topic has
brought nothing for longer than the grace, and a topic whose producer is still retrying its
writes would otherwise be skipped the moment the consumer sees it again, letting the topics that
came back first run ahead of it (seen in the fault suite after a broker restart).
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
        self.caught_up_since: dict[str, float | None] = dict.fromkeys(self.latest)  # None: not caught up

    def observe(self, topic: str, ts: float) -> None:
        """An event of ``topic`` at event time ``ts`` was read."""
        self.arrived[topic] = time.monotonic()
        seen = self.latest.get(topic)
        if seen is None or ts > seen:
            self.latest[topic] = ts

    def reset(self, topic: str) -> None:
        """``topic`` is read again from an earlier offset: nothing of it seen yet, and not quiet."""
        self.latest[topic] = None
        self.arrived[topic] = time.monotonic()
        self.caught_up_since[topic] = None

    def idle(self, topic: str, caught_up: Callable[[str], bool], now: float | None = None) -> bool:
        """Caught up, and quiet for ``idle_seconds`` since both its last event and the moment it was
        last seen not caught up (callers sample this often: each event, and a timer)."""
        now = time.monotonic() if now is None else now
        if not caught_up(topic):
            self.caught_up_since[topic] = None
            return False
        since = self.caught_up_since.get(topic)
        if since is None:
            since = self.caught_up_since[topic] = now
        return now - max(self.arrived.get(topic, 0.0), since) >= self.idle_seconds

    def value(self, caught_up: Callable[[str], bool]) -> float:
        """The lowest latest time of the topics that are not idle (+inf when all are idle)."""
        now = time.monotonic()
        # every topic is sampled (its quiet time), even after one that holds everything back
        busy = [seen for topic, seen in self.latest.items() if not self.idle(topic, caught_up, now)]
        if any(seen is None for seen in busy):
            return -math.inf
        return min([seen for seen in busy if seen is not None], default=math.inf)
