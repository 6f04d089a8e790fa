"""`churnwatch notify` against the real broker and a real webhook receiver on loopback that fails
on purpose (5xx, 429 with Retry-After, timeouts, 4xx): nothing lost, nothing duplicated at the
receiver by idempotency key, across a notify killed and restarted; what cannot be delivered goes
to the notify dead-letter topic with the reason, and no secret is printed."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from streams.simulate import SimConfig, generate
from tests.integration.harness import CHURNWATCH, LOGS, consume, free_port, replay_alerts
from tests.webhook_receiver import Receiver

SECRET_PATH = "hook-" + uuid.uuid4().hex
TOKEN = "tok-" + uuid.uuid4().hex


def _alerts(customers: int = 120, seed: int = 5) -> list[dict[str, Any]]:
    cfg = SimConfig(customers, 40, 1_790_000_000.0, seed, 0.5, {"fading_logins": 1, "failed_payments": 1, "pauses": 1})
    events = sorted(generate(cfg), key=lambda e: e["ts"])
    alerts = replay_alerts(events)
    for a in alerts:
        a["emitted_at"] = "2026-11-26T12:00:00.000Z"
    return alerts


class Notify:
    def __init__(self, bootstrap: str, prefix: str, routes: Path, name: str, **env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "CHURNWATCH_KAFKA_BOOTSTRAP": bootstrap,
            "CHURNWATCH_TOPIC_PREFIX": prefix,
            "CHURNWATCH_APP_ID": f"cw-{prefix}",
            "CHURNWATCH_PARTITIONS": "2",
            "CHURNWATCH_NOTIFY_ROUTES": str(routes),
            "CHURNWATCH_NOTIFY_PORT": str(self.port),
            "CHURNWATCH_WEB_BIND": "127.0.0.1",
            "CHURNWATCH_SESSION_TIMEOUT_SECONDS": "6",
            "CHURNWATCH_NOTIFY_TIMEOUT_SECONDS": "0.5",
            "CHURNWATCH_NOTIFY_BACKOFF_INITIAL_SECONDS": "0.1",
            "CHURNWATCH_NOTIFY_BACKOFF_MAX_SECONDS": "2",
            "CHURNWATCH_NOTIFY_MAX_IN_FLIGHT": "8",
            "HOOK_SECRET": SECRET_PATH,
            "HOOK_TOKEN": TOKEN,
            **env,
        }
        self.log = LOGS / f"test-notify-{name}-{prefix.strip('-')}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Notify:
        LOGS.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(CHURNWATCH), "notify"], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"notify exited with {self.proc.returncode}; see {self.log}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as resp:
                    if orjson.loads(resp.read()).get("partitions"):
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"notify not ready; see {self.log}")

    def metric(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def _setup(bootstrap: str, prefix: str, alerts: list[dict[str, Any]]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    from kafka.admin import NewTopic

    admin.create_topics([NewTopic(prefix + "alerts", 2, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for a in alerts:
        producer.send(prefix + "alerts", key=a["customer_id"].encode(), value=orjson.dumps(a))
    producer.flush()
    producer.close()


def _committed_all(bootstrap: str, prefix: str) -> bool:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"cw-{prefix}-notify", enable_auto_commit=False)
    try:
        tps = [TopicPartition(prefix + "alerts", p) for p in (0, 1)]
        ends = consumer.end_offsets(tps)
        return all(consumer.committed(tp) == ends[tp] for tp in tps)
    finally:
        consumer.close()


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.3)
    raise AssertionError(f"not in {timeout} s: {what}")


def _bucket(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 5


DOWN = threading.Event()  # the receiver is down (503 to everything) while set


def failing_plan(path: str, key: str, attempt: int) -> tuple[int, dict[str, str], float]:
    """Most keys fail at first, each in its own way; some twice; everything while DOWN."""
    if DOWN.is_set():
        return 503, {"Retry-After": "1"}, 0.0
    b = _bucket(key)
    if attempt == 1 and b == 1:
        return 500, {}, 0.0
    if attempt == 1 and b == 2:
        return 429, {"Retry-After": "1"}, 0.0
    if attempt == 1 and b == 3:
        return 200, {}, 1.2  # the client times out; the receiver did the work anyway
    if attempt <= 2 and b == 4:
        return 503, {}, 0.0
    return 200, {}, 0.05


@pytest.mark.slow
def test_nothing_lost_nothing_duplicated_under_receiver_failures_a_second_notify_and_a_crash(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"t-notify-{uuid.uuid4().hex[:8]}-"
    alerts = _alerts()
    assert len(alerts) >= 60
    _setup(kafka_bootstrap, prefix, alerts)
    wanted_chat = {a["alert_id"] for a in alerts if a["status"] == "firing" and a["tier"] in ("at_risk", "critical")}
    assert wanted_chat
    with Receiver(failing_plan) as rx:
        routes = tmp_path / "routes.yaml"
        routes.write_text(
            f"""routes:
  - name: crm
    url: {rx.url("/crm/")}${{HOOK_SECRET}}
    headers: {{Authorization: "Bearer ${{HOOK_TOKEN}}"}}
  - name: chat
    url: {rx.url("/chat/")}${{HOOK_SECRET}}
    format: chat
    match: {{status: firing, tier: [at_risk, critical]}}
"""
        )
        crm, chat = f"/crm/{SECRET_PATH}", f"/chat/{SECRET_PATH}"
        patient = {"CHURNWATCH_NOTIFY_MAX_ATTEMPTS": "100"}  # outlasts the receiver's outage below
        first = Notify(kafka_bootstrap, prefix, routes, "a", **patient).start()
        _wait(lambda: len(rx.keys(crm)) >= len(alerts) // 3, 90, "a third delivered by the first notify")
        DOWN.set()  # the receiver goes down: deliveries under way keep failing and retrying
        second = Notify(kafka_bootstrap, prefix, routes, "b", **patient).start()  # joins: a rebalance
        first.stop(signal.SIGKILL)  # then a crash mid-flight: deliveries under way, offsets not committed
        assert len(rx.keys(crm)) < len(alerts), "the crash must come before everything is delivered"
        DOWN.clear()
        everything = {a["alert_id"] for a in alerts}
        _wait(lambda: rx.keys(crm) == everything and rx.keys(chat) == wanted_chat, 120, "every alert delivered")
        _wait(lambda: _committed_all(kafka_bootstrap, prefix), 30, "every offset committed")
        retried = second.metric("churnwatch_notify_retries_total")
        sent = second.metric("churnwatch_notify_sent_total", route="crm")
        assert second.stop() == 0
    # nothing lost, nothing duplicated: one content per idempotency key, the contract's alert as the body
    by_id = {a["alert_id"]: a for a in alerts}
    for key, bodies in rx.accepted[crm].items():
        assert all(b == bodies[0] for b in bodies), "a repeat under one key must carry the same content"
        assert orjson.loads(bodies[0]) == by_id[key]
    for key, bodies in rx.accepted[chat].items():
        assert len({*bodies}) == 1
        assert by_id[key]["customer_id"] in orjson.loads(bodies[0])["text"]
    repeats = sum(len(b) - 1 for b in rx.accepted[crm].values())
    timed_out = sum(1 for r in rx.requests if r["path"] == crm and r["status"] == 200 and r["delay"] > 1)
    assert timed_out and repeats >= timed_out  # the receiver saw the timed-out ones again, under the same key
    assert retried > 0 and sent > 0
    for request in rx.requests:
        assert request["headers"]["Idempotency-Key"]
        if request["path"] == crm:
            assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
            assert request["headers"]["ce-id"] == request["key"] and request["headers"]["ce-specversion"] == "1.0"
    assert consume(kafka_bootstrap, prefix + "notify-dead-letters", idle=2.0) == []
    for log in (first.log, second.log):
        text = log.read_text()
        assert SECRET_PATH not in text and TOKEN not in text
        assert "Traceback" not in text


def _refusing(path: str, key: str, attempt: int) -> tuple[int, dict[str, str], float]:
    if path.startswith("/rejects/"):
        return 400, {}, 0.0
    if path.startswith("/down/"):
        return 503, {}, 0.0
    return 200, {}, 0.0


@pytest.mark.slow
def test_deliveries_that_still_fail_go_to_the_dead_letter_topic_and_digests_sum_up(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"t-notifydl-{uuid.uuid4().hex[:8]}-"
    alerts = _alerts(customers=40, seed=9)
    _setup(kafka_bootstrap, prefix, alerts)
    critical = [a for a in alerts if a["tier"] == "critical"]
    assert critical
    with Receiver(_refusing) as rx:
        routes = tmp_path / "routes.yaml"
        routes.write_text(
            f"""routes:
  - name: rejects
    url: {rx.url("/rejects/")}${{HOOK_SECRET}}
    match: {{tier: critical}}
  - name: down
    url: {rx.url("/down/")}${{HOOK_SECRET}}
    format: chat
    max_attempts: 2
    match: {{tier: critical}}
  - name: digest
    url: {rx.url("/digest/")}${{HOOK_SECRET}}
    digest_seconds: 1
"""
        )
        notify = Notify(kafka_bootstrap, prefix, routes, "dl").start()
        dead_topic = prefix + "notify-dead-letters"
        _wait(lambda: len(consume(kafka_bootstrap, dead_topic, idle=1.0)) >= 2 * len(critical), 60, "dead letters")
        digests = lambda: [orjson.loads(b) for bs in rx.accepted[f"/digest/{SECRET_PATH}"].values() for b in bs]  # noqa: E731
        _wait(lambda: sum(d["count"] for d in digests()) >= len(alerts), 60, "digests of every alert")
        _wait(lambda: _committed_all(kafka_bootstrap, prefix), 30, "every offset committed")
        failed_rejected = notify.metric("churnwatch_notify_failed_total", route="rejects", reason="rejected")
        failed_down = notify.metric("churnwatch_notify_failed_total", route="down", reason="retries_exhausted")
        assert notify.stop() == 0
        assert (failed_rejected, failed_down) == (len(critical), len(critical))
        dead = [v for _, v in consume(kafka_bootstrap, dead_topic, idle=2.0)]
        assert sorted((d["route"], d["alert_id"]) for d in dead) == sorted(
            [("rejects", a["alert_id"]) for a in critical] + [("down", a["alert_id"]) for a in critical]
        )
        for d in dead:
            assert d["reason"] == ("rejected" if d["route"] == "rejects" else "retries_exhausted")
            assert ("400" if d["route"] == "rejects" else "503") in d["detail"]
            assert d["attempts"] == (1 if d["route"] == "rejects" else 2)
            assert d["alert"]["alert_id"] == d["alert_id"] and d["topic"] == prefix + "alerts"
            assert SECRET_PATH not in orjson.dumps(d).decode()
        summed = sorted(i for d in digests() for i in d["alert_ids"])
        assert set(summed) == {a["alert_id"] for a in alerts}
        # a restart delivers nothing again: the dead-lettered and digested alerts were committed
        before = len(rx.requests)
        again = Notify(kafka_bootstrap, prefix, routes, "dl2").start()
        time.sleep(3)
        assert again.stop() == 0
        assert len(rx.requests) == before
        assert SECRET_PATH not in notify.log.read_text()
