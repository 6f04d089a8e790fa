"""agents.faust_consumer: the consumer's seek stops the flow, and a gap never covers the message
being delivered. Faust's own code is pinned where the fixes depend on it, so that an upgrade of
faust-streaming that changes it fails here first."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import faust.transport.consumer as faust_consumer
from faust.types import TP

from agents.app import App
from agents.faust_consumer import Consumer


def _consumer() -> Any:
    app = App("cw-unit-consumer", broker="kafka://127.0.0.1:1", autodiscover=False)
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    return consumer


def test_faust_passes_the_delivered_message_as_the_end_of_a_gap() -> None:
    # what _add_gap corrects: the fetch loop's call, with the offset of the message it delivers
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert "self._add_gap(tp, r_offset + 1, offset)" in source


def test_a_gap_ends_before_the_message_delivered() -> None:
    async def go() -> set[int]:
        consumer = _consumer()
        tp = TP("logins", 0)
        consumer._committed_offset[tp] = 10
        await consumer._add_gap(tp, 11, 15)  # read 10, delivering 15: 11..14 never came
        return {o for iv in consumer._gap[tp] for o in range(iv.begin, iv.end)}

    assert asyncio.run(go()) == {11, 12, 13, 14}


def test_no_gap_between_neighbours() -> None:
    async def go() -> int:
        consumer = _consumer()
        tp = TP("logins", 0)
        consumer._committed_offset[tp] = 10
        await consumer._add_gap(tp, 11, 11)
        return len(consumer._gap[tp])

    assert asyncio.run(go()) == 0


def test_the_seek_runs_with_the_flow_stopped_and_restarts_it() -> None:
    async def go() -> tuple[list[bool], bool, Any]:
        consumer = _consumer()
        tp = TP("logins", 0)
        during: list[bool] = []

        async def seek_to_committed() -> dict[TP, int]:
            during.append(consumer.flow_active)
            return {tp: 42}

        consumer.seek_to_committed = seek_to_committed
        consumer.resume_flow()
        await consumer.perform_seek()
        return during, consumer.flow_active, consumer._read_offset[tp]

    during, after, read = asyncio.run(go())
    assert during == [False]
    assert after is True
    assert read == 42


def test_a_seek_does_not_restart_a_flow_stopped_meanwhile_or_before() -> None:
    async def go() -> tuple[bool, bool]:
        consumer = _consumer()

        async def rebalancing() -> dict[TP, int]:
            consumer.stop_flow()  # a rebalance starts while the seek waits for the broker
            return {}

        consumer.seek_to_committed = rebalancing
        consumer.resume_flow()
        await consumer.perform_seek()
        stopped_meanwhile = consumer.flow_active

        async def plain() -> dict[TP, int]:
            return {}

        consumer.seek_to_committed = plain
        consumer.stop_flow()
        await consumer.perform_seek()
        return stopped_meanwhile, consumer.flow_active

    assert asyncio.run(go()) == (False, False)


def test_a_failed_seek_leaves_the_flow_as_faust_had_it() -> None:
    async def go() -> tuple[bool, bool]:
        consumer = _consumer()

        async def failing() -> dict[TP, int]:
            raise RuntimeError("no current assignment")

        consumer.seek_to_committed = failing
        consumer.resume_flow()
        try:
            await consumer.perform_seek()
        except RuntimeError:
            raised = True
        else:
            raised = False
        return raised, consumer.flow_active

    assert asyncio.run(go()) == (True, True)
