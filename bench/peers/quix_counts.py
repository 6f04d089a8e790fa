"""Peer: the same per-customer rolling counts written with Quix Streams (benchmark code only).

What a user might write instead of churnwatch: one Quix ``Application`` with a
``StreamingDataFrame`` per input topic and a stateful ``apply`` keeping, per customer, the event
times needed for rolling counts (logins in 7 days and the 28 days before, placed orders and their
value in 90 days, payment failures in 30 days and consecutive failures, tickets opened in 14 days).
State is Quix's RocksDB store with changelog topics (its defaults), like a Faust table.

Quix Streams pins ``pydantic<2.14`` and ``pydantic-settings<2.16``, which conflicts with
churnwatch, so it runs from its own virtualenv (``python -m bench setup-peers``). Run as
``python -m bench.peers.quix_counts --bootstrap ... --topics logins=...,orders=... --expect N``;
prints one JSON object: events, seconds (first to last message processed), eps, cpu_seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import datetime
from typing import Any

import orjson

from bench.peers import cpu_seconds

DAY = 86400.0


def _ts(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


class Progress:
    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.count = 0
        self.t_first = self.t_last = 0.0
        self.cpu_first = self.cpu_last = 0.0
        self.app: Any = None

    def tick(self) -> None:
        self.count += 1
        now = time.perf_counter()
        if self.count == 1:
            self.t_first, self.cpu_first = now, cpu_seconds()
        self.t_last = now
        if self.count >= self.expect:
            self.cpu_last = cpu_seconds()
            if self.app is not None:
                self.app.stop()


def login_counts(value: dict[str, Any], state: Any) -> dict[str, Any]:
    t = _ts(value["ts"])
    times: list[float] = state.get("t", [])
    if value.get("success", True):
        times.append(t)
    times = [x for x in times if x > t - 35 * DAY]
    state.set("t", times)
    last7 = sum(1 for x in times if x > t - 7 * DAY)
    return {"customer_id": value["customer_id"], "logins_7d": last7, "logins_prev_28d": len(times) - last7}


def order_counts(value: dict[str, Any], state: Any) -> dict[str, Any]:
    t = _ts(value["ts"])
    orders: dict[str, list[float]] = state.get("o", {})
    if value.get("status", "placed") == "placed":
        orders[str(value["order_id"])] = [t, float(value.get("amount", 0.0))]
    else:
        orders.pop(str(value["order_id"]), None)
    orders = {k: v for k, v in orders.items() if v[0] > t - 90 * DAY}
    state.set("o", orders)
    return {
        "customer_id": value["customer_id"],
        "orders_90d": len(orders),
        "order_value_90d": sum(v[1] for v in orders.values()),
    }


def payment_counts(value: dict[str, Any], state: Any) -> dict[str, Any]:
    t = _ts(value["ts"])
    fails: list[float] = state.get("f", [])
    consecutive: int = state.get("c", 0)
    if value.get("kind", "charge") in ("charge", "renewal"):
        if value.get("status") == "failed":
            fails.append(t)
            consecutive += 1
        elif value.get("status") == "succeeded":
            consecutive = 0
    fails = [x for x in fails if x > t - 30 * DAY]
    state.set("f", fails)
    state.set("c", consecutive)
    return {"customer_id": value["customer_id"], "payment_failures_30d": len(fails), "consecutive": consecutive}


def ticket_counts(value: dict[str, Any], state: Any) -> dict[str, Any]:
    t = _ts(value["ts"])
    opened: list[float] = state.get("o", [])
    if value.get("action") == "opened":
        opened.append(t)
    opened = [x for x in opened if x > t - 14 * DAY]
    state.set("o", opened)
    return {"customer_id": value["customer_id"], "tickets_opened_14d": len(opened)}


FUNCS = {"login": login_counts, "order": order_counts, "payment": payment_counts, "support_ticket": ticket_counts}


def run(bootstrap: str, topics: dict[str, str], expect: int, group: str, timeout: float) -> dict[str, Any]:
    from quixstreams import Application

    progress = Progress(expect)
    with tempfile.TemporaryDirectory(prefix="bench-quix-") as state_dir:
        app = Application(
            broker_address=bootstrap,
            consumer_group=group,
            auto_offset_reset="earliest",
            state_dir=state_dir,
            loglevel="WARNING",
        )
        progress.app = app
        for etype, name in topics.items():
            fn = FUNCS[etype]
            topic = app.topic(name, value_deserializer="json", key_deserializer="string")
            sdf = app.dataframe(topic)

            def counted(value: dict[str, Any], state: Any, fn: Any = fn) -> dict[str, Any]:
                out = fn(value, state)
                progress.tick()
                return out

            sdf.apply(counted, stateful=True)
        t0 = time.monotonic()
        app.run(timeout=timeout, collect=False)
        wall = time.monotonic() - t0
    seconds = progress.t_last - progress.t_first
    cpu = progress.cpu_last - progress.cpu_first
    ok = progress.count >= expect
    return {
        "status": "ok" if ok else "error",
        "reason": "" if ok else f"processed {progress.count} of {expect} in {wall:.0f} s",
        "events": progress.count,
        "seconds": seconds,
        "eps": (progress.count - 1) / seconds if seconds > 0 else None,
        "cpu_seconds": cpu,
        "eps_per_cpu_second": (progress.count - 1) / cpu if cpu > 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--topics", required=True, help="type=topic pairs, comma-separated (login=..., order=...)")
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--group", default="churnwatch-bench-quix")
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    topics = dict(pair.split("=", 1) for pair in a.topics.split(","))
    result = run(a.bootstrap, topics, a.expect, a.group, a.timeout)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
