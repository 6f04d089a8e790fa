"""Ceiling: how fast one aiokafka consumer reads the input topics doing nothing per message.

A Faust worker is an aiokafka consumer plus work, so this is the most one worker process could
reach on these topics. Run as ``python -m bench.peers.raw_aiokafka --bootstrap ... --topics a,b
--expect N``; prints one JSON object: events, seconds (first to last message), eps, cpu_seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from typing import Any

import orjson


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def consume(bootstrap: str, topics: list[str], expect: int, group: str, timeout: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    count = first_batch = 0
    t_first = t_last = 0.0
    cpu_first = 0.0
    deadline = time.monotonic() + timeout
    touched = 0
    try:
        while count < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for msgs in batches.values():
                for msg in msgs:
                    touched += len(msg.value or b"")
                n = len(msgs)
                if n and count == 0:
                    t_first, cpu_first, first_batch = time.perf_counter(), _cpu(), n
                count += n
            if batches:
                t_last = time.perf_counter()
    finally:
        await consumer.stop()
    seconds = t_last - t_first
    measured = count - first_batch
    return {
        "status": "ok" if count >= expect else "error",
        "reason": "" if count >= expect else f"consumed {count} of {expect} in {timeout:.0f} s",
        "events": count,
        "seconds": seconds,
        "eps": measured / seconds if seconds > 0 else None,
        "cpu_seconds": _cpu() - cpu_first,
        "bytes": touched,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--topics", required=True, help="comma-separated topic names")
    p.add_argument("--expect", type=int, required=True, help="messages to read before stopping")
    p.add_argument("--group", default="churnwatch-bench-raw")
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args(argv)
    result = asyncio.run(consume(a.bootstrap, a.topics.split(","), a.expect, a.group, a.timeout))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
