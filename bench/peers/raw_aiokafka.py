"""Ceiling: how fast one aiokafka consumer reads the input topics doing nothing per message.

A Faust worker is an aiokafka consumer plus work, so this is the most one worker process could
reach on these topics. The partitions are assigned by hand (no group join) and read from the
beginning; the clock runs from the assignment to the last message. Run as
``python -m bench.peers.raw_aiokafka --bootstrap ... --topics a,b --partitions P --expect N``;
prints one JSON object: events, seconds (assignment to last message), eps, cpu_seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import orjson

from bench.peers import cpu_seconds


async def consume(bootstrap: str, topics: list[str], partitions: int, expect: int, timeout: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    # Manual assignment, no consumer group: the clock starts when fetching starts, and it
    # measures fetch + decode + iteration, not a group join.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    count = 0
    t_first = t_last = 0.0
    touched = 0
    deadline = time.monotonic() + timeout
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        cpu_first = cpu_seconds()
        t_first = time.perf_counter()
        while count < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=1_000)
            for msgs in batches.values():
                for msg in msgs:
                    touched += len(msg.value or b"")
                count += len(msgs)
            if batches:
                t_last = time.perf_counter()
    finally:
        await consumer.stop()
    seconds = t_last - t_first
    cpu = cpu_seconds() - cpu_first
    return {
        "status": "ok" if count >= expect else "error",
        "reason": "" if count >= expect else f"consumed {count} of {expect} in {timeout:.0f} s",
        "events": count,
        "seconds": seconds,
        "eps": count / seconds if seconds > 0 else None,
        "cpu_seconds": cpu,
        "eps_per_cpu_second": count / cpu if cpu > 0 else None,
        "bytes": touched,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--topics", required=True, help="comma-separated topic names")
    p.add_argument("--partitions", type=int, required=True, help="partitions of each topic")
    p.add_argument("--expect", type=int, required=True, help="messages to read before stopping")
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args(argv)
    result = asyncio.run(consume(a.bootstrap, a.topics.split(","), a.partitions, a.expect, a.timeout))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
