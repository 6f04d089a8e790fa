"""Faust's Kafka consumer (faust-streaming 0.15) with three offset races closed.

Faust commits, per partition, the run of acknowledged offsets after the committed one, and counts
a *gap* (offsets its fetch loop never saw, as a compacted topic or a transactional producer's
commit markers leave) as acknowledged. Two of its gaps were not holes, and let Faust commit past
input messages the worker had not handled yet: a crash or a rebalance afterwards lost them (seen
in the fault suite: events of a partition neither in its state nor dead-lettered after a worker
restarted on a backlog; the next owner resumed after them, and its progress record counted them
as handled). The third race stalled a table recovery.

1. **Messages delivered before the seek to the committed offsets.** After a table recovery
   (``Recovery.on_recovery_completed``) Faust resumes the input partitions while its fetch loop
   is already running, and only then seeks them to their committed offsets (faust-streaming issues
   #596 and #216 describe the same race). A batch fetched in between is still being delivered
   after the seek: its next message is far ahead of the read offset the seek set, and Faust counted
   the offsets in between as a gap, though they had just been delivered (with the event clock the
   aligner was holding them). Here the offsets delivered before a seek are never part of a gap.
   Their second delivery from the seek is dropped by Faust as already read; the first one is
   handled and acknowledged like any other.
2. **A gap that includes the message after it.** For a real hole Faust's fetch loop marks
   ``read + 1 .. offset`` as handled, the message being delivered included, so it could commit past
   that message before it was handled. The gap here ends before it.
3. **Records fetched while the flow stopped.** When a fetch that started before a rebalance
   returns after the flow stopped, Faust's ``getmany`` discards its records and seeks back to
   the committed offsets. Changelog partitions have none, so a table recovery that had just
   sought them to where it reads from never got those records again and waited for them for
   ever (seen in the fault suite, about 1 run in 6 of the wall-clock test, and last session:
   "No event received for active tp ... since recovery start" after a second worker left). Here
   each partition of such a batch is sought back to its first record, so it is fetched again.

A gap is logged at warning level: the input topics of a plain (non-transactional) producer have
none, so one there means a consumer fault, not compaction. The consumer's flow is left alone:
stopping it around the seek also closes race 1, but adds a stop to every rebalance, and Faust's
fetch loop seeks on its own when it finds the flow stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger("churnwatch")


class Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the last offset of each partition delivered before the latest seek to the committed offsets
        self._delivered_before_seek: dict[TP, int] = {}

    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:
        """The next fetched batch; one that ``getmany`` will discard (the flow stopped while it was
        fetched) is first sought back to its first records, so it comes again (race 3 above)."""
        records, active = await super()._wait_next_records(timeout)
        if records and not self.flow_active:
            for tp, batch in records.items():
                if batch:
                    try:  # the fetch position only: nothing of the batch was delivered
                        await self._seek(tp, batch[0].offset)
                    except Exception:  # revoked meanwhile: its next owner reads it from its own offsets
                        log.debug("no seek back for %s: no longer assigned", tp)
        return records, active

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek to the committed offsets, and note what was delivered before (race 1 above).
        Noted once the broker answered: ``perform_seek`` sets the read offsets right after this
        returns, with no await in between, so no delivery falls between the two."""
        committed = await super().seek_to_committed()
        self._delivered_before_seek = {tp: o for tp, o in self._read_offset.items() if o is not None}
        return committed

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets ``offset_from .. offset_to - 1`` never came: Faust passes the offset of the
        message it is delivering as ``offset_to`` (race 2), and the offsets delivered before the
        latest seek did come (race 1)."""
        delivered = self._delivered_before_seek.get(tp)
        if delivered is not None:
            offset_from = max(offset_from, delivered + 1)
        offset_to -= 1
        if offset_from > offset_to:
            return
        log.warning(
            "offsets %d..%d of %s[%d] were skipped by the consumer (a transactional or compacted "
            "topic leaves such holes; on other topics it is a consumer fault: please report it)",
            offset_from,
            offset_to,
            tp.topic,
            tp.partition,
        )
        await super()._add_gap(tp, offset_from, offset_to)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
