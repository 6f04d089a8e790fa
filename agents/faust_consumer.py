"""Faust's Kafka consumer (faust-streaming 0.15) with its offset races closed.

Faust commits, per partition, the run of acknowledged offsets after the committed one, and counts
a *gap* (offsets its fetch loop never saw, as a compacted topic or a transactional producer's
commit markers leave) as acknowledged. Each race below let it commit past input messages the
worker had not handled, or deliver them never (a crash or a rebalance afterwards lost them: seen
in the fault suite as events of a partition neither in its state nor dead-lettered), or stalled a
table recovery.

1. **A batch fetched before a seek, delivered after it.** After a table recovery
   (``Recovery.on_recovery_completed``) Faust resumes the input partitions while its fetch loop is
   already running, and only then seeks them to their committed offsets (faust-streaming issues
   #596 and #216 describe the same race). A batch that came in between was still being delivered
   after the seek: its next message was far ahead of the read offset the seek had set, so Faust
   counted the offsets in between as a gap, and dropped their second delivery (from the seek) as
   already read. The first delivery may never have been handled: the worker drops what reaches it
   for a partition it does not own yet, and the event clock's aligner was holding the rest (seen
   in the fault suite: one login of a partition that stayed with its worker through a rebalance,
   never applied). Here, after a seek, a partition's messages are delivered only from the offset
   sought on (what comes before it was read from where the partition stood before the seek);
   the app hears where each input partition starts (``App.on_input_seek``; the log's start where
   the group has no committed offset), and the worker admits each input partition's messages
   once, in offset order, from there (``agents.input_order``), having the consumer read a
   partition again (:meth:`Consumer.reread`) when a message comes before its turn or none comes.
2. **A gap that includes the message after it.** For a real hole Faust's fetch loop marks
   ``read + 1 .. offset`` as handled, the message being delivered included, so it could commit past
   that message before it was handled. The gap here ends before it, and may start at the
   committed offset itself (offsets retention deleted unread: :meth:`Consumer.skip_to`).
3. **A commit that skips the committed offset.** Faust commits a run of acknowledged offsets that
   starts one past the committed offset (``min(acked) - committed_offset > 1`` in
   ``Consumer._new_offset`` should be ``> 0``), though the committed offset is the next one to
   read: a message at the committed offset could be passed while unhandled, whenever a later one
   was acknowledged first. Here the run must start at the committed offset (or a gap must cover it).
4. **Records fetched while the flow stopped.** When a fetch that started before a rebalance
   returns after the flow stopped, Faust's ``getmany`` discards its records and seeks back to
   the committed offsets. Changelog partitions have none, so a table recovery that had just
   sought them to where it reads from never got those records again and waited for them for
   ever ("No event received for active tp ... since recovery start"). Here each partition of such
   a batch is sought back to its first record, so it is fetched again.

A gap is logged at warning level: the input topics of a plain (non-transactional) producer have
none, so one there means a consumer fault, not compaction. The consumer's flow is left alone (a
stop around the seek would add one to every rebalance and still leave the messages queued for the
agent; Faust's fetch loop also seeks on its own when it finds the flow stopped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

log = logging.getLogger("churnwatch")


class Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seek_pending: dict[TP, int] = {}  # partition: the offset sought, until a message there comes

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's batches; after a seek, a partition's messages only from the offset sought on
        (race 1 above): any other came from where the partition was read before the seek."""
        pending = self._seek_pending
        async for tp, message in super().getmany(timeout):
            if pending:
                sought = pending.get(tp)
                if sought is not None:
                    if message.offset != sought:
                        continue
                    del pending[tp]
            yield tp, message

    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:
        """The next fetched batch; one that ``getmany`` will discard (the flow stopped while it was
        fetched) is first sought back to its first records, so it comes again (race 4 above)."""
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
        """Seek to the committed offsets; the app's ``on_input_seek`` hears where each of its input
        partitions starts (race 1 above). One its group has no offset for yet starts at the log's
        start (as the ``earliest`` reset policy says): sought there too, as what was delivered
        before may have missed its first messages. ``perform_seek`` sets the read offsets to what
        this returns right after, with no await in between."""
        committed = await super().seek_to_committed()
        inputs: frozenset[str] = getattr(self.app, "input_topics", frozenset())
        mine = [tp for tp in committed if not inputs or tp.topic in inputs]
        starts = {tp: committed[tp] for tp in mine if committed[tp] and committed[tp] > 0}  # aiokafka sought these
        fresh = [tp for tp in mine if tp not in starts and inputs]
        if fresh:
            committed = dict(committed)
            earliest = dict(await self.earliest_offsets(*fresh))
            await self.seek_wait(earliest)  # in the consumer's thread, as aiokafka wants
            for tp, offset in earliest.items():
                starts[tp] = committed[tp] = offset  # Faust's read and committed offsets start there
        self._seek_pending.update(starts)
        hook = getattr(self.app, "on_input_seek", None)
        if hook is not None:
            hook(starts)
        return committed

    async def reread(self, tp: TP, offset: int) -> None:
        """Read ``tp`` again from ``offset`` (a later message reached the worker first)."""
        await self.seek_wait({tp: offset})  # in the consumer's thread, as aiokafka wants (``seek`` is not)
        self._read_offset[tp] = offset if offset else None  # as ``seek`` sets it
        self._seek_pending[tp] = offset

    async def skip_to(self, tp: TP, missing: int, offset: int) -> None:
        """Offsets ``missing .. offset - 1`` of ``tp`` are gone from the topic (retention deleted
        them before they were read): read on from ``offset``, and let commits pass them."""
        await self._add_gap(tp, missing, offset)
        await self.reread(tp, offset)

    def _new_offset(self, tp: TP) -> int | None:
        """Faust's next offset to commit, never past an unacknowledged committed offset (race 3)."""
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed:
            gaps = self._gap.get(tp)
            if not gaps or not gaps.overlaps_point(committed):
                return None
        return super()._new_offset(tp)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets ``offset_from .. offset_to - 1`` never came: Faust passes the offset of the
        message it is delivering as ``offset_to``, and counts no gap at the committed offset
        itself (race 2)."""
        committed = self._committed_offset[tp]
        if committed is not None:
            offset_from = max(offset_from, committed)
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
        gaps = self._gap[tp]
        gaps.addi(offset_from, offset_to + 1)  # intervals exclude their end
        await asyncio.sleep(0)  # as Faust's: let health checks run while a large gap is merged
        gaps.merge_overlaps()


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
