"""Small Kafka helpers for the benchmarks: broker check, topics, bulk produce, committed offsets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

INPUT_TYPES = ("login", "order", "payment", "support_ticket")


def broker_reachable(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when the first bootstrap address accepts a TCP connection."""
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port or 9092)), timeout=timeout):
            return True
    except OSError:
        return False


def _admin(bootstrap: str) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="churnwatch-bench", request_timeout_ms=30000)


def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = _admin(bootstrap)
    try:
        new = [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in names]
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(new, timeout_ms=30000)
    finally:
        admin.close()
    wait_for_topics(bootstrap, list(names))


def wait_for_topics(bootstrap: str, names: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    admin = _admin(bootstrap)
    try:
        while time.monotonic() < deadline:
            if set(names) <= set(admin.list_topics()):
                return
            time.sleep(0.2)
    finally:
        admin.close()
    raise TimeoutError(f"topics not created in {timeout:.0f} s: {names}")


def delete_topics_containing(bootstrap: str, marker: str) -> list[str]:
    """Delete every topic whose name contains ``marker`` (this run's unique id); returns their names."""
    admin = _admin(bootstrap)
    try:
        names = [t for t in admin.list_topics() if marker in t]
        if names:
            with contextlib.suppress(Exception):
                admin.delete_topics(names, timeout_ms=30000)
        return names
    finally:
        admin.close()


def delete_group(bootstrap: str, group: str) -> None:
    admin = _admin(bootstrap)
    try:
        with contextlib.suppress(Exception):
            admin.delete_consumer_groups([group])
    finally:
        admin.close()


def committed_total(bootstrap: str, group: str, topics: Iterable[str]) -> int:
    """Sum of the group's committed offsets over ``topics`` (0 where nothing is committed)."""
    admin = _admin(bootstrap)
    try:
        offsets = admin.list_consumer_group_offsets(group)
    finally:
        admin.close()
    wanted = set(topics)
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic in wanted)


def encode(event: Mapping[str, Any]) -> tuple[str, bytes, bytes]:
    """(event type, key, value) of a JSON-ready event dict with a ``"type"`` (not sent on the wire)."""
    etype = str(event["type"])
    body = {k: v for k, v in event.items() if k != "type"}
    return etype, str(event["customer_id"]).encode(), orjson.dumps(body)


async def produce_all(
    bootstrap: str, topics: Mapping[str, str], events: Iterable[Mapping[str, Any]]
) -> tuple[int, float]:
    """Produce every event to its type's topic as fast as the producer allows; returns (count, seconds)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=20, max_batch_size=512 * 1024, client_id="churnwatch-bench"
    )
    await producer.start()
    n = 0
    t0 = time.perf_counter()
    try:
        pending: list[asyncio.Future[Any]] = []
        for ev in events:
            etype, key, value = encode(ev)
            pending.append(await producer.send(topics[etype], value=value, key=key))
            n += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        if pending:
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return n, time.perf_counter() - t0


def produce_sync(bootstrap: str, topics: Mapping[str, str], events: Iterable[Mapping[str, Any]]) -> tuple[int, float]:
    return asyncio.run(produce_all(bootstrap, topics, events))
