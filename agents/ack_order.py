"""What reached the events agent, per input partition: its last offset, and acknowledgements in
offset order.

Faust commits, per partition, the run of acknowledged offsets that follows its committed offset.
faust-streaming 0.15 (``Consumer._new_offset``) takes an acknowledged offset right after the
committed one as the start of that run even when the committed offset itself (the next one to
read) is not acknowledged: ``min(acked) - committed_offset > 1`` should be ``> 0``. With the
event clock the aligner holds an event while later events of its partition (earlier in event
time) are applied and acknowledged; Faust then commits past the held one, and a crash before it
is applied loses it for good (seen in the fault suite: one login of a killed worker's partition,
never applied and never delivered again). Acknowledging in offset order leaves no such gap (and
the worker's consumer no longer commits such a run: ``agents.faust_consumer``, race 3).

Pure bookkeeping, no I/O: :meth:`AckOrder.received` registers a message as the events agent gets
it (in offset order per partition), :meth:`AckOrder.handled` records its acknowledgement once the
pipeline is done with it, and :meth:`AckOrder.take` returns the acknowledgements of each
partition's handled prefix, oldest first. :meth:`AckOrder.last` is the last offset received
(Faust's own read offset runs ahead of it by what waits in the agent's queue).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

Ack = Callable[[], Any]


class Slot:
    __slots__ = ("ack",)

    def __init__(self) -> None:
        self.ack: Ack | None = None  # set once handled


class AckOrder:
    def __init__(self) -> None:
        self._open: dict[tuple[str, int], deque[Slot]] = {}
        self._last: dict[tuple[str, int], int] = {}  # the last offset received, per (topic, partition)

    def received(self, tp: tuple[str, int], offset: int) -> Slot:
        """A message of ``tp`` (topic, partition) reached the agent; its slot waits for :meth:`handled`."""
        self._last[tp] = offset
        slot = Slot()
        slots = self._open.get(tp)
        if slots is None:
            slots = self._open[tp] = deque()
        slots.append(slot)
        return slot

    @staticmethod
    def handled(slot: Slot, ack: Ack) -> None:
        slot.ack = ack

    def take(self, partitions: Iterable[int]) -> dict[int, list[Ack]]:
        """The acknowledgements now due for ``partitions``, by partition: each topic partition's
        slots from the oldest up to the first not yet handled."""
        wanted = set(partitions)
        out: dict[int, list[Ack]] = {}
        for (_, partition), slots in self._open.items():
            if partition not in wanted:
                continue
            due = out.setdefault(partition, [])
            while slots and slots[0].ack is not None:
                ack = slots.popleft().ack
                assert ack is not None
                due.append(ack)
        return out

    def last(self, tp: tuple[str, int]) -> int | None:
        """The last offset of ``tp`` received since its partition was assigned; None for none."""
        return self._last.get(tp)

    def forget(self, partitions: Iterable[int]) -> None:
        """Revoked or reassigned: their messages come again from the committed offsets."""
        gone = set(partitions)
        for known in (self._open, self._last):
            for key in [key for key in known if key[1] in gone]:
                del known[key]

    def forget_topic_partition(self, tp: tuple[str, int]) -> None:
        """Sought back to its committed offset: its messages come again from there."""
        self._open.pop(tp, None)
        self._last.pop(tp, None)

    def waiting(self) -> int:
        """Messages received and not yet acknowledged (handled or not)."""
        return sum(len(slots) for slots in self._open.values())
