"""Faust's Kafka consumer with two offset races of faust-streaming 0.15 closed.

Both let Faust commit past an input message that the worker had not handled, so a crash or a
rebalance afterwards lost it for good (seen in the fault suite: events of a partition neither in
its state nor dead-lettered, after a worker restarted on a backlog; the partition's next owner
resumed after them, and its progress record counted them as handled).

1. **Messages delivered before the seek to the committed offsets.** After a table recovery
   (``Recovery.on_recovery_completed``) Faust resumes the input partitions while its fetch loop is
   already running, and only then seeks them to their committed offsets. A batch fetched in
   between is still being delivered after the seek: its next message is then far ahead of the
   read offset the seek set, and Faust counts every offset in between as a *gap* (as if compacted
   away) that needs no acknowledgement. Those messages were delivered once, before the seek, but
   not yet handled: with the event clock the aligner holds them, and Faust committed past them.
   Their second delivery from the seek is dropped as already read (faust-streaming issues #596
   and #216 describe the same race). Here the consumer's flow is stopped while it seeks, as it is
   on the other path (``Recovery._resume_streams``): the batch in flight ends at the next message
   and fetching starts again from the committed offsets.
2. **A gap that includes the message after it.** For a real hole in the offsets (a transactional
   producer's commit markers, a compacted topic) Faust's fetch loop marks ``read + 1 .. offset``
   as handled, the message being delivered included, so Faust can commit past that message before
   it is handled. The gap here ends before it.

A gap is logged at warning level: on the input topics of a plain (non-transactional) producer
there is none, so one means a consumer race, not compaction.
"""

from __future__ import annotations

import logging

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger("churnwatch")


class Consumer(faust_aiokafka.Consumer):
    _flow_stops = 0  # stop_flow calls so far: a seek restarts the flow only if nobody else stopped it

    def stop_flow(self) -> None:
        self._flow_stops += 1
        super().stop_flow()

    async def perform_seek(self) -> None:
        """Seek to the committed offsets with the flow stopped (race 1 above)."""
        if not self.flow_active:
            await super().perform_seek()
            return
        self.stop_flow()
        mine = self._flow_stops
        try:
            await super().perform_seek()
        finally:  # also when the seek failed: the flow as Faust left it
            if self._flow_stops == mine:  # not stopped again meanwhile (by a rebalance, or stopping)
                self.resume_flow()

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets ``offset_from .. offset_to - 1`` never came (race 2 above: Faust passes the
        offset of the message it is delivering as ``offset_to`` and would count it too)."""
        if offset_from <= offset_to - 1:
            log.warning(
                "offsets %d..%d of %s[%d] were skipped by the consumer (a transactional or compacted "
                "topic leaves such holes; on other topics it is a consumer fault: please report it)",
                offset_from,
                offset_to - 1,
                tp.topic,
                tp.partition,
            )
        await super()._add_gap(tp, offset_from, offset_to - 1)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
