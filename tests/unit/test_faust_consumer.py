"""agents.faust_consumer: after a seek a partition is delivered from the offset sought on; the
app hears where each input partition starts; a gap never covers the message being delivered; a
commit never passes an unacknowledged committed offset. Faust's own code is pinned where the
fixes depend on it, so that an upgrade of faust-streaming that changes it fails here first."""

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
    # a seek run in the consumer's thread (``seek`` calls aiokafka from the event loop's thread)
    assert "self._thread.seek_wait(partitions)" in inspect.getsource(faust_consumer.ThreadDelegateConsumer.seek_wait)
    # the off-by-one the commit fix corrects (the committed offset is the next one to read)
    assert "min(acked) - committed_offset > 1" in inspect.getsource(faust_consumer.Consumer._new_offset)
    # a message below the read offset is dropped by the fetch loop, one at it delivered again
    assert "if r_offset is None or offset >= r_offset:" in inspect.getsource(faust_consumer.Consumer._drain_messages)


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


class _FullRecord:
    topic, partition, offset, timestamp, timestamp_type = "logins", 0, 5, 1_700_000_000_000, 0
    headers: list[tuple[str, bytes]] = []
    key, value, checksum, serialized_key_size, serialized_value_size = b"k", b"v", None, 1, 1

    def __init__(self, offset: int = 5) -> None:
        self.offset = offset


def _seekable(consumer: Any, committed: dict[TP, int | None]) -> list[dict[TP, int]]:
    """aiokafka's seek stubbed: it answers ``committed``; returns the app hook's calls."""
    heard: list[dict[TP, int]] = []

    async def seek_to_committed() -> dict[TP, int | None]:
        return dict(committed)

    consumer._thread.seek_to_committed = seek_to_committed
    consumer.app.on_input_seek = lambda starts: heard.append(dict(starts))
    return heard


def _fetching(consumer: Any, *batches: dict[TP, list[_FullRecord]]) -> None:
    pending = list(batches)

    async def fetch(active_partitions: Any, timeout: float) -> dict[TP, list[_FullRecord]]:
        return pending.pop(0) if pending else {}

    consumer._getmany = fetch
    consumer._active_partitions = {tp for batch in batches for tp in batch}
    consumer.highwater = lambda tp: 1000
    consumer.resume_flow()


def test_a_hole_at_the_committed_offset_is_a_gap() -> None:
    async def go() -> set[int]:
        consumer = _consumer()
        consumer._committed_offset[TP0] = 10
        await consumer._add_gap(TP0, 10, 12)
        return _gap(consumer)

    assert asyncio.run(go()) == {10, 11}


def test_a_commit_never_passes_the_unacknowledged_committed_offset() -> None:
    consumer = _consumer()
    consumer._committed_offset[TP0] = 10
    consumer._acked[TP0].extend([11, 12])
    assert consumer._new_offset(TP0) is None  # Faust's own would commit 13, past 10
    consumer._acked[TP0].append(10)
    assert consumer._new_offset(TP0) == 13


def test_a_gap_at_the_committed_offset_counts_as_acknowledged() -> None:
    async def go() -> int | None:
        consumer = _consumer()
        consumer._committed_offset[TP0] = 10
        await consumer._add_gap(TP0, 10, 11)
        consumer._acked[TP0].append(11)
        return consumer._new_offset(TP0)

    assert asyncio.run(go()) == 12


def test_a_seek_tells_the_app_where_each_input_partition_starts() -> None:
    """A partition with a committed offset starts there; an input partition its group has none
    for is sought to the log's start (what came before the seek may have missed its first
    messages); a partition of another topic (a changelog) is left alone."""
    orders, changelog = TP("orders", 0), TP("cw-app-customer_state-changelog", 0)

    async def go() -> tuple[Any, list[dict[TP, int]], list[tuple[TP, int]]]:
        consumer = _consumer()
        consumer.app.input_topics = frozenset({"logins", "orders"})
        heard = _seekable(consumer, {TP0: 593, orders: None, changelog: None})
        sought: list[tuple[TP, int]] = []

        async def earliest(*tps: TP) -> dict[TP, int]:
            return dict.fromkeys(tps, 4)

        async def seek_wait(partitions: dict[TP, int]) -> None:
            sought.extend(partitions.items())

        consumer.earliest_offsets = earliest
        consumer.seek_wait = seek_wait
        await consumer.perform_seek()
        return consumer, heard, sought

    consumer, heard, sought = asyncio.run(go())
    assert heard == [{TP0: 593, orders: 4}]
    assert sought == [(orders, 4)]
    assert consumer._read_offset[TP0] == 593 and consumer._read_offset[orders] == 4


def test_after_a_seek_a_partition_is_delivered_from_the_offset_sought_on() -> None:
    """A batch that came before the seek goes on being delivered after it: its messages of the
    partitions the seek moved are skipped until the offset sought comes (here in the next fetch);
    the other partitions' messages are delivered."""
    other = TP("orders", 0)

    async def go() -> list[tuple[str, int]]:
        consumer = _consumer()
        _seekable(consumer, {TP0: 593})
        _fetching(
            consumer,
            {TP0: [_FullRecord(600), _FullRecord(601)], other: [_FullRecord(7), _FullRecord(8)]},
            {TP0: [_FullRecord(593), _FullRecord(594)]},
        )
        delivered: list[tuple[str, int]] = []
        async for tp, message in consumer.getmany(1.0):
            delivered.append((tp.topic, message.offset))
            if tp == TP0:
                await consumer.perform_seek()
        async for tp, message in consumer.getmany(1.0):
            delivered.append((tp.topic, message.offset))
        return delivered

    delivered = asyncio.run(go())
    assert ("logins", 601) not in delivered
    assert sorted(delivered[:3]) == [("logins", 600), ("orders", 7), ("orders", 8)]
    assert delivered[3:] == [("logins", 593), ("logins", 594)]


def test_a_fetch_the_seek_overtakes_comes_from_the_new_position_and_is_delivered() -> None:
    """A fetch waiting for the broker when the seek is made returns records from the offset
    sought (aiokafka drops what it had fetched before): they are delivered."""

    async def go() -> list[int]:
        consumer = _consumer()
        _seekable(consumer, {TP0: 593})
        _fetching(consumer, {TP0: [_FullRecord(593), _FullRecord(594)]})
        fetch = consumer._getmany

        async def overtaken(active_partitions: Any, timeout: float) -> Any:
            await consumer.perform_seek()  # made while the fetch waits
            return await fetch(active_partitions, timeout)

        consumer._getmany = overtaken
        return [message.offset async for _tp, message in consumer.getmany(1.0)]

    assert asyncio.run(go()) == [593, 594]


def test_reading_again_seeks_the_partition_and_delivers_from_there() -> None:
    """Read again from 10: what is still being delivered from before (13, 14) is skipped up to
    the offset sought; from it on, everything is delivered."""

    async def go() -> tuple[list[tuple[TP, int]], Any, list[int]]:
        consumer = _consumer()
        sought: list[tuple[TP, int]] = []

        async def seek_wait(partitions: dict[TP, int]) -> None:
            sought.extend(partitions.items())

        consumer.seek_wait = seek_wait
        _fetching(consumer, {TP0: [_FullRecord(13), _FullRecord(14), _FullRecord(10), _FullRecord(11)]})
        await consumer.reread(TP0, 10)
        delivered = [message.offset async for _tp, message in consumer.getmany(1.0)]
        return sought, consumer, delivered

    sought, consumer, delivered = asyncio.run(go())
    assert sought == [(TP0, 10)] and consumer._read_offset[TP0] == 10
    assert delivered == [10, 11]


def test_retention_s_hole_is_a_gap_and_reading_goes_on_after_it() -> None:
    async def go() -> tuple[Any, list[tuple[TP, int]]]:
        consumer = _consumer()
        sought: list[tuple[TP, int]] = []

        async def seek_wait(partitions: dict[TP, int]) -> None:
            sought.extend(partitions.items())

        consumer.seek_wait = seek_wait
        consumer._committed_offset[TP0] = 10
        await consumer.skip_to(TP0, 10, 40)
        return consumer, sought

    consumer, sought = asyncio.run(go())
    assert _gap(consumer) == set(range(10, 40)) and sought == [(TP0, 40)]
    consumer._acked[TP0].append(40)
    assert consumer._new_offset(TP0) == 41
