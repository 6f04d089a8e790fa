"""Which offsets may be committed: a message counts as done once every delivery it owes is done
(sent, or dead-lettered); the committable offset of a partition is its lowest offset not done."""

from __future__ import annotations

from typing import Generic, TypeVar

P = TypeVar("P")


class OffsetTracker(Generic[P]):
    def __init__(self) -> None:
        self.pending: dict[P, dict[int, int]] = {}  # partition -> offset -> deliveries still owed
        self.next: dict[P, int] = {}  # partition -> one past the highest offset read

    def read(self, tp: P, offset: int, owed: int) -> None:
        """A message read; ``owed`` deliveries (0: done at once)."""
        self.next[tp] = max(self.next.get(tp, 0), offset + 1)
        if owed > 0:
            self.pending.setdefault(tp, {})[offset] = owed

    def done(self, tp: P, offset: int) -> None:
        owed = self.pending.get(tp)
        if owed is None or offset not in owed:
            return  # the partition was revoked meanwhile: its next owner reads the message again
        owed[offset] -= 1
        if owed[offset] <= 0:
            del owed[offset]

    def committable(self) -> dict[P, int]:
        """Per partition, the offset to commit (Kafka's convention: the next one to read)."""
        out: dict[P, int] = {}
        for tp, nxt in self.next.items():
            owed = self.pending.get(tp)
            out[tp] = min(owed) if owed else nxt
        return out

    def owed(self) -> int:
        return sum(len(v) for v in self.pending.values())

    def forget(self, tps: set[P]) -> None:
        for tp in tps:
            self.pending.pop(tp, None)
            self.next.pop(tp, None)
