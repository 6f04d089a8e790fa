"""Ceiling for a Faust worker: one agent over the input topics doing nothing per event.

The same Faust version and settings style as ``churnwatch worker`` (raw bytes, one agent over the
four topics, ``noack()`` events acknowledged at once), with no table and no work: what Faust's own
per-message machinery (fetcher thread, conductor, stream iteration, acks) allows on this machine.
The clock runs from the first event to the last. Run as ``python -m bench.peers.faust_noop
--bootstrap ... --topics a,b --expect N --group G``; prints one JSON object: events, seconds,
eps, cpu_seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

import orjson

from bench.peers import cpu_seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--topics", required=True, help="comma-separated topic names")
    p.add_argument("--expect", type=int, required=True, help="messages to read before stopping")
    p.add_argument("--group", required=True, help="consumer group (Faust app id)")
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args(argv)

    import faust

    from agents.faust_worker import Worker

    app = faust.App(
        a.group,
        broker=f"kafka://{a.bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="bench-faust-noop-"),
        Worker=Worker,
    )
    topic = app.topic(*a.topics.split(","), key_serializer="raw", value_serializer="raw")
    seen: dict[str, Any] = {"n": 0, "t0": 0.0, "cpu0": 0.0}

    def report(status: str, reason: str = "") -> None:
        n = seen["n"]
        seconds = time.perf_counter() - seen["t0"] if n else 0.0
        cpu = cpu_seconds() - seen["cpu0"]
        result = {
            "status": status,
            "reason": reason,
            "events": n,
            "seconds": seconds,
            "eps": n / seconds if seconds > 0 else None,
            "cpu_seconds": cpu,
            "eps_per_cpu_second": n / cpu if cpu > 0 else None,
        }
        os.write(1, orjson.dumps(result) + b"\n")  # fd 1: Faust's worker redirects sys.stdout to its logger
        os._exit(0 if status == "ok" else 1)

    @app.agent(topic)
    async def noop(stream: Any) -> None:
        async for event in stream.noack().events():
            if not seen["n"]:
                seen["t0"], seen["cpu0"] = time.perf_counter(), cpu_seconds()
            seen["n"] += 1
            event.ack()
            if seen["n"] >= a.expect:
                report("ok")

    @app.timer(interval=1.0)
    async def deadline() -> None:
        if time.monotonic() - started > a.timeout:
            report("error", f"consumed {seen['n']} of {a.expect} in {a.timeout:.0f} s")

    started = time.monotonic()
    sys.argv = [sys.argv[0], "worker", "-l", "error", "--without-web"]
    app.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
