"""Each input partition's messages reach the pipeline once, in offset order, from the committed offset.

Faust's consumer delivers what its fetch loop has, and around a rebalance that is not a clean
sequence: a batch fetched before the seek to the committed offsets goes on being delivered after
it, messages of a partition not yet owned are dropped by the worker, the seek delivers messages
again, and Faust's loop drops a message below the offset it last delivered (seen in the fault
suite: a login of a partition that stayed with its worker through a rebalance was never applied,
and a commit passed it). Rather than trust each path, the events agent admits a message only if
it is the next one of its topic partition:

- after an assignment, nothing until the consumer has sought the partition to its committed
  offset (:meth:`InputOrder.start`; the log's start where the group has none);
- the message at the next offset is admitted; one below it was admitted before (a second
  delivery) and is skipped;
- one above it means messages in between never reached the agent: it is skipped, and the agent
  has the consumer read the partition again from the next offset (:attr:`Verdict.REREAD`);
- a partition with messages to read that admits none for a few seconds is read again too
  (:meth:`InputOrder.stalled`, on a timer): whatever stopped its next message, the worker does
  not wait for ever. If retention deleted that message before it was read, the run goes on from
  the log's start; another hole (a transactional producer's commit marker, a compacted topic)
  is not supported on input topics, and the partition waits, logged at error level.

Pure bookkeeping, no I/O; topic partitions are ``(topic, partition)`` tuples.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

TopicPartition = tuple[str, int]


class Verdict(enum.Enum):
    ADMIT = "admit"
    SKIP = "skip"  # already admitted, or waiting for the partition's start
    REREAD = "reread"  # messages before it are missing: read the partition again from the next offset


class InputOrder:
    def __init__(self) -> None:
        self._next: dict[TopicPartition, int] = {}  # started partitions: the next offset
        self._reread: dict[TopicPartition, int] = {}  # partitions being read again: from which offset
        self._watched: dict[TopicPartition, tuple[int, int]] = {}  # next offset at the last check, checks since

    def stop(self, partitions: Iterable[int]) -> None:
        """Revoked or assigned again: wait for their start (the seek to the committed offsets)."""
        gone = set(partitions)
        for known in (self._next, self._reread, self._watched):
            for tp in [tp for tp in known if tp[1] in gone]:
                del known[tp]

    def start(self, tp: TopicPartition, offset: int) -> None:
        """The consumer sought ``tp`` to ``offset``: the run starts there."""
        self._next[tp] = offset
        self._reread.pop(tp, None)
        self._watched.pop(tp, None)

    def admit(self, tp: TopicPartition, offset: int) -> Verdict:
        """Whether the message at ``offset`` is the next of ``tp``."""
        if tp not in self._next:
            return Verdict.SKIP
        expected = self._next[tp]
        if offset == expected:
            self._next[tp] = offset + 1
            self._reread.pop(tp, None)
            return Verdict.ADMIT
        if offset < expected:
            return Verdict.SKIP
        if self._reread.get(tp) == expected:
            return Verdict.SKIP  # the consumer reads it again already
        self._reread[tp] = expected
        return Verdict.REREAD

    def stalled(self, tp: TopicPartition, highwater: int | None, checks: int = 3) -> bool:
        """Called on a timer: whether ``tp`` has had messages to read (below ``highwater``) and
        admitted none for ``checks`` calls in a row (its next message never came: the consumer
        should read it again). Counting starts again after each answer of yes."""
        if tp not in self._next:
            return False
        expected = self._next[tp]
        last, count = self._watched.get(tp, (-1, 0))
        waiting = highwater is not None and expected < highwater
        count = count + 1 if waiting and last == expected else 0
        if count >= checks:
            self._watched[tp] = (expected, 0)
            return True
        self._watched[tp] = (expected, count)
        return False

    def next_offset(self, tp: TopicPartition) -> int | None:
        return self._next.get(tp)

    def started(self, tp: TopicPartition) -> bool:
        return tp in self._next
