"""agents.faust_consumer: a gap never covers the message being delivered, nor the messages
delivered before the latest seek. Faust's own code is pinned where the fixes depend on it, so
that an upgrade of faust-streaming that changes it fails here first."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import faust.tables.recovery as faust_recovery
import faust.transport.consumer as faust_consumer
from faust.types import TP

from agents.app import App
from agents.faust_consumer import Consumer

TP0 = TP("logins", 0)


def _consumer() -> Any:
    app = App("cw-unit-consumer", broker="kafka://127.0.0.1:1", autodiscover=False)
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    return consumer


def _gap(consumer: Any, tp: TP = TP0) -> set[int]:
    return {o for iv in consumer._gap[tp] for o in range(iv.begin, iv.end)}


def test_faust_code_the_fixes_depend_on() -> None:
    # the fetch loop passes the offset of the message it delivers as the end of a gap
    assert "self._add_gap(tp, r_offset + 1, offset)" in inspect.getsource(faust_consumer.Consumer._drain_messages)
    # the seek after a recovery sets the read offsets to the committed ones, right after asking for them
    seek = inspect.getsource(faust_consumer.Consumer.perform_seek)
    assert "await self.seek_to_committed()\n        read_offset.update(" in seek
    assert "perform_seek()" in inspect.getsource(faust_recovery.Recovery.on_recovery_completed)


def test_a_gap_ends_before_the_message_delivered() -> None:
    async def go() -> set[int]:
        consumer = _consumer()
        consumer._committed_offset[TP0] = 10
        await consumer._add_gap(TP0, 11, 15)  # read 10, delivering 15: 11..14 never came
        return _gap(consumer)

    assert asyncio.run(go()) == {11, 12, 13, 14}


def test_no_gap_between_neighbours() -> None:
    async def go() -> set[int]:
        consumer = _consumer()
        consumer._committed_offset[TP0] = 10
        await consumer._add_gap(TP0, 11, 11)
        return _gap(consumer)

    assert asyncio.run(go()) == set()


def test_what_was_delivered_before_the_seek_is_no_gap() -> None:
    """Delivered 593..602 before the seek set the read offset back to 593; the batch fetched
    before the seek goes on with 603: nothing in between is missing."""

    async def go() -> tuple[set[int], set[int]]:
        consumer = _consumer()

        async def seek_to_committed() -> dict[TP, int]:  # aiokafka's, in the consumer thread
            consumer._read_offset[TP0] = 602  # delivered while the broker answered
            return {TP0: 593}

        consumer._thread.seek_to_committed = seek_to_committed
        consumer._read_offset[TP0] = 598
        await consumer.perform_seek()
        assert consumer._read_offset[TP0] == 593
        await consumer._add_gap(TP0, 594, 603)
        stale = _gap(consumer)
        await consumer._add_gap(TP0, 604, 610)  # a real hole afterwards still counts
        return stale, _gap(consumer)

    stale, later = asyncio.run(go())
    assert stale == set()
    assert later == set(range(604, 610))
