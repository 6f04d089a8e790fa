"""The streaming worker against the real broker and Redis: same alerts as replay, dead letters,
a Redis outage, and the HTTP views (crashes, stops and rebalances: test_faults.py)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import orjson
import pytest
import redis

from streams.simulate import SimConfig, generate
from tests.integration.harness import (
    WorkerProcess,
    consume,
    free_port,
    produce,
    produce_raw,
    replay_alerts,
    strip,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = list(generate(SimConfig(customers=120, days=45, seed=11, churn_share=0.3)))


def test_worker_publishes_what_replay_publishes_and_serves_live_state(services: dict[str, str]) -> None:
    worker = WorkerProcess(services, "replay").start()
    try:
        partitions = produce(worker, EVENTS)
        worker.wait_for_events(len(EVENTS))
        time.sleep(1.0)
        live = [a for _, a in consume(services["bootstrap"], worker.topic("alerts"))]
        expected = replay_alerts(EVENTS, partitions)
        assert expected, "the input should raise alerts"
        assert strip(live) == strip(expected)
        assert all(key is not None for key, _ in consume(services["bootstrap"], worker.topic("alerts"), idle=1))

        # HTTP: live state of one customer, the at-risk list, and JSON errors
        cid = expected[-1]["customer_id"]
        status, view = worker.get(f"/customers/{cid}")
        assert status == 200 and view["customer_id"] == cid
        assert {"tier", "risk_score", "rules", "signals", "alerted_tier"} <= set(view)
        status, body = worker.get("/at-risk?limit=5")
        assert status == 200 and 0 < len(body["customers"]) <= 5
        rar = [c["revenue_at_risk"] for c in body["customers"]]
        assert rar == sorted(rar, reverse=True)
        status, body = worker.get("/at-risk?tier=critical")
        assert status == 200 and all(c["tier"] == "critical" for c in body["customers"])
        assert worker.get("/at-risk?tier=doomed")[0] == 400
        assert worker.get("/at-risk?limit=-1")[0] == 400
        status, body = worker.get("/customers/nobody-here")
        assert status == 404 and body["error"] == "not_found"
        assert worker.metric("churnwatch_alerts_total") == len(expected)
    finally:
        worker.stop()


def test_bad_input_goes_to_dead_letters_and_the_worker_keeps_going(services: dict[str, str]) -> None:
    worker = WorkerProcess(services, "dead", CHURNWATCH_MAX_EVENT_BYTES="4096").start()
    try:
        good = {"event_id": "g1", "customer_id": "c-1", "ts": "2026-11-01T00:00:00Z"}
        produce_raw(worker, "logins", b"c-1", orjson.dumps(good))
        worker.wait_for_events(1)
        cases = {
            "invalid_json": (b"c-1", b"{not json"),
            "schema": (b"c-1", orjson.dumps({**good, "event_id": "s", "success": "maybe"})),
            "key_mismatch": (b"c-2", orjson.dumps({**good, "event_id": "k"})),
            "too_large": (b"c-1", orjson.dumps({**good, "event_id": "l", "pad": "x" * 5000})),
            "future_timestamp": (b"c-1", orjson.dumps({**good, "event_id": "f", "ts": "2099-01-01T00:00:00Z"})),
            "too_late": (b"c-1", orjson.dumps({**good, "event_id": "t", "ts": "2026-10-20T00:00:00Z"})),
        }
        for key, value in cases.values():
            produce_raw(worker, "logins", key, value)
        produce_raw(worker, "logins", b"c-1", orjson.dumps({**good, "event_id": "g2", "ts": "2026-11-01T01:00:00Z"}))
        worker.wait_for_events(2 + len(cases))
        time.sleep(1.0)
        letters = {d["reason"]: (k, d) for k, d in consume(services["bootstrap"], worker.topic("dead-letters"))}
        assert set(letters) == set(cases)
        import base64

        for reason, (key, value) in cases.items():
            got_key, letter = letters[reason]
            assert base64.b64decode(letter["value_base64"]) == value
            assert got_key == key
            assert letter["topic"] == worker.topic("logins") and letter["offset"] >= 0 and letter["detail"]
        assert worker.metric("churnwatch_dead_letters_total", reason="schema") == 1
        assert worker.metric("churnwatch_events_total", outcome="applied") == 2
        assert worker.get("/healthz")[0] == 200
    finally:
        worker.stop()


def test_redis_outage_ends_with_a_correct_view(services: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    worker = WorkerProcess(services, "redis", CHURNWATCH_REDIS_URL=url).start()
    try:
        half = len(EVENTS) // 2
        produce(worker, EVENTS[:half])
        worker.wait_for_events(half)
        time.sleep(1.5)
        assert client.zcard("churnwatch:at_risk") > 0
        server.terminate()
        server.wait(timeout=10)
        produce(worker, EVENTS[half:])
        worker.wait_for_events(len(EVENTS))
        time.sleep(1.5)
        assert worker.metric("churnwatch_redis_write_failures_total") >= 1
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # empty: no persistence
        deadline = time.monotonic() + 30
        customers = sorted({e["customer_id"] for e in EVENTS})
        while time.monotonic() < deadline:
            try:
                if client.exists(*(f"churnwatch:customer:{c}" for c in customers)) == len(customers):
                    break
            except redis.ConnectionError:
                pass
            time.sleep(0.5)
        time.sleep(1.0)
        for c in customers:
            status, view = worker.get(f"/customers/{c}")
            assert status == 200
            stored = client.hgetall(f"churnwatch:customer:{c}")
            assert stored[b"tier"].decode() == view["tier"], c
            assert orjson.loads(stored[b"rules"]) == [r["rule"] for r in view["rules"]], c
            score = client.zscore("churnwatch:at_risk", c)
            assert (score is None) == (view["tier"] == "healthy"), c
    finally:
        worker.stop()
        server.terminate()
        server.wait(timeout=10)
