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
    # getmany discards a batch fetched while the flow stopped, and seeks only to committed offsets
    getmany = inspect.getsource(faust_consumer.Consumer.getmany)
    assert "await self._wait_next_records(timeout)" in getmany
    assert "getmany called while flow not active" in getmany


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


class _Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def test_a_batch_fetched_while_the_flow_stopped_is_fetched_again() -> None:
    """A fetch started before a rebalance returns after the flow stopped: getmany will discard it,
    so each of its partitions goes back to its first record (a changelog partition has no committed
    offset to go back to, and its recovery waited for those records for ever)."""
    changelog = TP("cw-app-customer_state-changelog", 1)

    async def go() -> tuple[list[tuple[TP, int]], bool]:
        consumer = _consumer()
        sought: list[tuple[TP, int]] = []

        async def fetch(active_partitions: Any, timeout: float) -> dict[TP, list[_Record]]:
            consumer.stop_flow()  # a rebalance starts while the fetch waits for the broker
            return {changelog: [_Record(0), _Record(1)], TP0: [], TP("orders", 0): [_Record(7)]}

        async def seek(tp: TP, offset: int) -> None:
            sought.append((tp, offset))

        consumer._getmany = fetch
        consumer._seek = seek
        consumer._active_partitions = {changelog, TP0}
        consumer.resume_flow()
        records, _ = await consumer._wait_next_records(1.0)
        return sought, bool(records)

    sought, returned = asyncio.run(go())
    assert returned
    assert sorted(sought) == [(changelog, 0), (TP("orders", 0), 7)]


def test_a_batch_fetched_while_the_flow_runs_is_left_alone() -> None:
    async def go() -> list[tuple[TP, int]]:
        consumer = _consumer()
        sought: list[tuple[TP, int]] = []

        async def fetch(active_partitions: Any, timeout: float) -> dict[TP, list[_Record]]:
            return {TP0: [_Record(3)]}

        async def seek(tp: TP, offset: int) -> None:
            sought.append((tp, offset))

        consumer._getmany = fetch
        consumer._seek = seek
        consumer._active_partitions = {TP0}
        consumer.resume_flow()
        await consumer._wait_next_records(1.0)
        return sought

    assert asyncio.run(go()) == []
