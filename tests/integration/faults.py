"""Tools of the fault suite: a paced producer, a private redis-server, and the comparisons with
replay that every fault test ends with."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
from kafka import KafkaProducer

from agents.pack_file import load_pack
from rules.engine import Engine, EngineConfig
from streams.parse import parse_line
from tests.integration.harness import WorkerProcess, consume, free_port


class PacedProducer(threading.Thread):
    """Sends the events in order, keyed by customer_id, at about ``rate`` events/s, in the background."""

    def __init__(self, worker: WorkerProcess, events: Sequence[dict[str, Any]], rate: float) -> None:
        super().__init__(daemon=True)
        self.worker, self.events, self.rate = worker, events, rate
        self.partitions: dict[str, int] = {}
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = KafkaProducer(bootstrap_servers=self.worker.settings.kafka_bootstrap, linger_ms=5, acks="all")
            topics = self.worker.settings.input_topics
            started = time.monotonic()
            futures = {}
            for i, event in enumerate(self.events):
                body = {k: v for k, v in event.items() if k != "type"}
                cid = event["customer_id"]
                futures[cid] = producer.send(topics[event["type"]], key=cid.encode(), value=orjson.dumps(body))
                self.sent = i + 1
                ahead = (i + 1) / self.rate - (time.monotonic() - started)
                if ahead > 0.05:
                    time.sleep(ahead)
            producer.flush()
            self.partitions = {cid: f.get(timeout=60).partition for cid, f in futures.items()}
            producer.close()
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self, timeout: float = 300.0) -> dict[str, int]:
        if self.ident is not None:  # started as a thread (run() may also be called in the caller's)
            self.join(timeout)
        assert not self.is_alive(), "the producer did not finish"
        assert self.error is None, f"producer failed: {self.error!r}"
        return self.partitions


class RedisServer:
    """A private redis-server on a free port, stopped and started at will (no persistence)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> RedisServer:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [*cmd, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(100):
            try:
                self.client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@dataclass
class Expected:
    """What replay of the same input gives, one engine (one event clock) per partition."""

    alerts: dict[str, bytes]
    engines: dict[int, Engine]
    partitions: dict[str, int]
    applied: int = 0
    late: list[str] = field(default_factory=list)


def canonical(alert: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in alert.items() if k != "emitted_at"}, option=orjson.OPT_SORT_KEYS)


def replay_partitions(events: Iterable[dict[str, Any]], partitions: dict[str, int], *, wall: bool = False) -> Expected:
    """Replay per partition, no final tick. ``wall``: events applied without ticks (the wall-clock
    worker ticks on its own; only states and views are compared then)."""
    engines: dict[int, Engine] = {}
    alerts: dict[str, bytes] = {}
    out = Expected(alerts, engines, partitions)
    pack = load_pack()
    for raw in events:
        event = parse_line(orjson.dumps(raw))
        p = partitions[event.customer_id]
        engine = engines.get(p)
        if engine is None:
            engine = engines[p] = Engine(pack, EngineConfig(tick_seconds=86400.0))
        produced = engine.apply(event) if wall else engine.process(event)
        out.applied += 1
        for alert in produced:
            alerts[alert["alert_id"]] = canonical(alert)
    return out


@dataclass
class AlertCheck:
    published: int
    distinct: int
    missing: list[str]
    extra: list[str]
    changed: list[str]

    @property
    def repeated(self) -> int:
        return self.published - self.distinct

    def summary(self) -> str:
        return (
            f"{self.published} published, {self.distinct} distinct ids, {self.repeated} repeats of an id, "
            f"{len(self.missing)} missing, {len(self.extra)} not in replay, {len(self.changed)} with changed content"
        )


def check_alerts(live: Iterable[dict[str, Any]], expected: dict[str, bytes] | None) -> AlertCheck:
    """Live alerts against replay's (``expected``), or, without it, against themselves only."""
    contents: dict[str, set[bytes]] = defaultdict(set)
    published = 0
    for alert in live:
        published += 1
        contents[alert["alert_id"]].add(canonical(alert))
    if expected is None:
        changed = sorted(i for i, c in contents.items() if len(c) > 1)
        return AlertCheck(published, len(contents), [], [], changed)
    missing = sorted(set(expected) - set(contents))
    extra = sorted(set(contents) - set(expected))
    changed = sorted(i for i, c in contents.items() if i in expected and c != {expected[i]})
    return AlertCheck(published, len(contents), missing, extra, changed)


def wait_for_alerts(bootstrap: str, topic: str, expected: set[str], timeout: float = 90.0) -> list[dict[str, Any]]:
    """The alerts topic, read again until it holds every expected id (or the time is up), then once more."""
    deadline = time.monotonic() + timeout
    while True:
        live = [a for _, a in consume(bootstrap, topic, idle=2.0)]
        if expected <= {a["alert_id"] for a in live} or time.monotonic() > deadline:
            break
        time.sleep(2.0)
    time.sleep(2.0)
    return [a for _, a in consume(bootstrap, topic, idle=2.0)]


def wait_for_leaders(bootstrap: str, topics: Iterable[str], timeout: float = 120.0) -> None:
    """Every partition of ``topics`` has a leader that answers. A broker with many topics brings them
    back one by one after a restart; a producer writing meanwhile retries the partitions not served
    yet and lands their events seconds after those of the others, which no consumer can tell from
    an idle topic. The fault under test is the worker's outage, not that reordering. The metadata
    names a partition's leader before the broker serves it (seen with ~900 topics on the broker:
    the producer still got NotLeaderForPartition), so each leader must also answer for its end
    offset."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    names = sorted(topics)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            try:
                described = admin.describe_topics(names)
            finally:
                admin.close()
            if all(not t["error_code"] and t["partitions"] for t in described) and all(
                p["leader_id"] >= 0 and not p["error_code"] for t in described for p in t["partitions"]
            ):
                tps = [TopicPartition(t["name"], p["partition_index"]) for t in described for p in t["partitions"]]
                consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
                try:
                    consumer.end_offsets(tps)  # answered by each partition's leader, or raises
                finally:
                    consumer.close()
                return
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"partitions of {names} without a leader after {timeout} s; last: {last!r}")
        time.sleep(0.5)


def wait_caught_up(workers: Sequence[WorkerProcess], timeout: float = 120.0) -> None:
    """Every worker reports no consumer lag, every handled offset committed (an offset acknowledged
    twice would stall commits) and no rebalance, three times in a row (the gauges are 5 s old at most)."""
    deadline = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < deadline:
        lag = sum(
            w.metric("churnwatch_consumer_lag_messages") + w.metric("churnwatch_uncommitted_offsets") for w in workers
        )
        rebalancing = any(w.get("/healthz")[1].get("rebalancing", True) for w in workers)
        owned = sorted(p for w in workers for p in w.get("/healthz")[1].get("partitions", []))
        calm = calm + 1 if lag == 0 and not rebalancing and owned else 0
        if calm >= 3:
            return
        time.sleep(2.0)
    raise AssertionError(f"workers did not catch up in {timeout} s; logs: {[str(w.log) for w in workers]}")


def consumer_skips(workers: Sequence[WorkerProcess]) -> list[str]:
    """The lines of the workers' logs where the consumer skipped input offsets (``agents.faust_consumer``):
    the tests' producers are not transactional, so their topics have no holes and each line is a fault."""
    lines: list[str] = []
    for w in workers:
        if w.log.exists():
            text = w.log.read_text(errors="replace")
            lines += [line for line in text.splitlines() if "skipped by the consumer" in line]
    return lines


def view_differences(
    worker: WorkerProcess, expected: Expected, customers: Iterable[str], *, at_now: bool = False
) -> dict[str, Any]:
    """Customers whose /customers view differs from replay's engine of their partition.

    ``at_now`` (wall clock): the worker renders at the request's time, so replay renders at the
    same time and time-based signals are compared to a minute; tier and score, which move with
    the tick schedule, are left out."""
    wrong: dict[str, Any] = {}
    for cid in customers:
        status, got = worker.get(f"/customers/{cid}")
        engine = expected.engines[expected.partitions[cid]]
        want = engine.view(cid, time.time() if at_now else None)
        if want is None:
            continue
        if status != 200:
            wrong[cid] = f"HTTP {status}: {got}"
            continue
        if at_now:
            diffs = {
                k: (got["signals"].get(k), v)
                for k, v in want["signals"].items()
                if not _close(got["signals"].get(k), v, k)
            }
            if diffs:
                wrong[cid] = diffs
        else:
            keys = ("as_of", "tier", "risk_score", "alerted_tier", "rules", "signals", "revenue_at_risk")
            diffs = {k: (got.get(k), want[k]) for k in keys if got.get(k) != want[k]}
            if diffs:
                wrong[cid] = diffs
    return wrong


def _close(a: Any, b: Any, name: str) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and ("days_since" in name or "hours" in name):
        return abs(a - b) <= (0.01 if "days" in name else 0.2)
    if name in ("order_gap_ratio", "customer_value") and isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) <= 0.01 * max(1.0, abs(b))
    return bool(a == b)


def redis_differences(server: RedisServer, workers: Sequence[WorkerProcess]) -> dict[str, Any]:
    """Redis's at-risk set against the union of the workers' /at-risk answers (member and revenue at risk)."""
    served: dict[str, float] = {}
    for w in workers:
        status, body = w.get("/at-risk?limit=1000")
        assert status == 200, body
        for row in body["customers"]:
            served[row["customer_id"]] = row["revenue_at_risk"]
    stored = {m.decode(): round(s, 2) for m, s in server.client.zrange("churnwatch:at_risk", 0, -1, withscores=True)}
    diff: dict[str, Any] = {}
    for cid in set(served) | set(stored):
        if served.get(cid) is None or stored.get(cid) is None or abs(served[cid] - stored[cid]) > 0.011:
            diff[cid] = (stored.get(cid), served.get(cid))
    return diff
