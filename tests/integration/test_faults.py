"""The fault suite: workers killed, stopped, joined and restarted, the broker and Redis taken away,
a worker starting late on a backlog, against the real broker and redis-server.

Each test ends by comparing with replay of the same input (one engine per partition, no final
tick): with the event clock, 0 alerts missing, 0 with changed content, repeats only under the same
alert_id, no dead letter, /customers equal to replay's view, Redis equal to the workers' /at-risk.
With the wall clock, where alerts depend on when ticks run: no dead letter, no alert id with two
contents, lag 0, and /customers equal to replay at the same time. A summary of each run is appended
to .cache/logs/fault-suite.log.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from agents.pack_file import load_pack
from agents.replay import replay
from agents.topics import ensure_topics, partition_of
from streams.simulate import SimConfig, generate
from tests.integration.faults import (
    Expected,
    PacedProducer,
    RedisServer,
    canonical,
    check_alerts,
    consumer_skips,
    redis_differences,
    replay_partitions,
    view_differences,
    wait_caught_up,
    wait_for_alerts,
    wait_for_leaders,
)
from tests.integration.harness import LOGS, ROOT, WorkerProcess, consume

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]

PARTITIONS = "4"
SEED = int(os.environ.get("CHURNWATCH_FAULT_SEED", str(int(time.time()) % 100_000)))
# the SIGKILL loop's size; a longer soak: CHURNWATCH_FAULT_CUSTOMERS=2000 CHURNWATCH_FAULT_DAYS=60 ...
SIZE = {"CUSTOMERS": "600", "DAYS": "40", "KILLS": "4"}


def _record(name: str, text: str) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / "fault-suite.log").open("a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {name} (seed {SEED}): {text}\n")


def _sample(events: list[dict[str, Any]], n: int = 40) -> list[str]:
    customers = sorted({e["customer_id"] for e in events})
    return random.Random(SEED).sample(customers, min(n, len(customers)))


def _settle(check: Any, timeout: float = 30.0) -> Any:
    """Poll ``check()`` until it returns something empty (views and Redis are written asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not result or time.monotonic() > deadline:
            return result
        time.sleep(1.0)


def _event_clock_checks(
    name: str, workers: list[WorkerProcess], events: list[dict[str, Any]], expected: Expected, redis: RedisServer
) -> None:
    bootstrap = workers[0].settings.kafka_bootstrap
    live = wait_for_alerts(bootstrap, workers[0].topic("alerts"), set(expected.alerts))
    check = check_alerts(live, expected.alerts)
    _record(name, f"{len(events)} events, replay {len(expected.alerts)} alerts; live: {check.summary()}")
    for i in check.missing:
        _record(name, f"missing {expected.alerts[i].decode()[:400]}")
    for a in live:
        if a["alert_id"] in check.extra:
            _record(name, f"not in replay {str(a)[:400]}")
    logs = [str(w.log) for w in workers]
    skips = consumer_skips(workers)
    assert not skips, f"the consumer skipped input offsets: {skips[:3]}; logs {logs}"
    assert not check.missing, f"{check.summary()}; missing e.g. {check.missing[:5]}; logs {logs}"
    assert not check.changed, f"{check.summary()}; changed e.g. {check.changed[:5]}; logs {logs}"
    assert not check.extra, f"{check.summary()}; not in replay e.g. {check.extra[:5]}; logs {logs}"
    dead = consume(bootstrap, workers[0].topic("dead_letters"), idle=1.0)
    assert not dead, f"{len(dead)} dead letters, first: {dead[0][1]['reason']}: {dead[0][1]['detail']}; logs {logs}"
    sample = _sample(events)
    wrong = _settle(lambda: view_differences(workers[0], expected, sample))
    assert not wrong, f"/customers differs from replay for {len(wrong)} customers: {dict(list(wrong.items())[:3])}"
    diff = _settle(lambda: redis_differences(redis, workers))
    assert not diff, f"Redis differs from /at-risk for {len(diff)} customers: {dict(list(diff.items())[:5])}"


def test_event_clock_sigkill_loop_redis_restart_and_restart_without_input(
    services: dict[str, str], tmp_path: Path
) -> None:
    """(a) SIGKILL at random moments while processing, restarted each time; (d) Redis stopped and
    started empty mid-stream; (e) restart with no new input: views there at once, Redis reconciled."""
    rng = random.Random(SEED)
    customers, days, kills_wanted = (int(os.environ.get(f"CHURNWATCH_FAULT_{k}", d)) for k, d in SIZE.items())
    events = list(generate(SimConfig(customers=customers, days=days, seed=SEED, churn_share=0.3)))
    redis = RedisServer(tmp_path).start()
    worker = WorkerProcess(services, "kill", CHURNWATCH_PARTITIONS=PARTITIONS, CHURNWATCH_REDIS_URL=redis.url)
    try:
        worker.start()
        # faster than the worker: a backlog builds, each restart catches up on it (partitions'
        # clocks then drift apart), and every kill lands while events are being processed
        producer = PacedProducer(worker, events, rate=5000)
        producer.start()
        kills = 0
        while kills < kills_wanted:
            time.sleep(rng.uniform(0.5, 3.0))
            worker.stop(signal.SIGKILL)
            kills += 1
            if kills == 2:  # (d) Redis goes away while the worker is down, and comes back empty
                redis.stop()
                worker.start()
                time.sleep(2.0)
                redis.start()
            else:
                worker.start()
        partitions = producer.finish()
        wait_caught_up([worker])
        expected = replay_partitions(events, partitions)
        # the command line gives the same: `churnwatch replay --partitions 4 --no-final-tick`
        assert partitions == {cid: partition_of(cid, int(PARTITIONS)) for cid in partitions}
        lines = tmp_path / "events.jsonl"
        lines.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        out = io.BytesIO()
        replay([lines], load_pack(), out, partitions=int(PARTITIONS), final_tick=False)
        assert {a["alert_id"]: canonical(a) for a in map(orjson.loads, out.getvalue().splitlines())} == expected.alerts
        _event_clock_checks(f"sigkill x{kills}", [worker], events, expected, redis)

        # (e) restart with no new input; a stale at-risk entry of one of its partitions is removed
        assert worker.terminate(timeout=30.0), f"SIGTERM did not stop the worker in 30 s; see {worker.log}"
        ghost = next(f"ghost-{i}" for i in range(1000) if partition_of(f"ghost-{i}", int(PARTITIONS)) == 0)
        redis.client.zadd("churnwatch:at_risk", {ghost: 123.0})
        worker.start()
        sample = _sample(events)
        wrong = view_differences(worker, expected, sample)  # at once: engines exist from assignment
        assert not wrong, f"after a restart with no input, /customers differs for {len(wrong)}: {wrong}"
        diff = _settle(lambda: redis_differences(redis, [worker]))
        assert not diff, f"Redis not reconciled after the restart: {dict(list(diff.items())[:5])}"
        assert redis.client.zscore("churnwatch:at_risk", ghost) is None
    finally:
        worker.stop()
        redis.stop()


def test_two_workers_one_stopped_one_killed_event_clock(services: dict[str, str], tmp_path: Path) -> None:
    """(b) Two workers share the partitions; one leaves with SIGTERM (in seconds, not after a
    minute of waiting for held events), comes back, then the other is killed and comes back."""
    events = list(generate(SimConfig(customers=300, days=40, seed=SEED + 1, churn_share=0.3)))
    redis = RedisServer(tmp_path).start()
    env = {"CHURNWATCH_PARTITIONS": PARTITIONS, "CHURNWATCH_REDIS_URL": redis.url}
    a = WorkerProcess(services, "pair", **env)
    b = WorkerProcess(services, "pair", prefix=a.prefix, **env)
    b.env["CHURNWATCH_APP_ID"] = a.env["CHURNWATCH_APP_ID"]
    try:
        a.start()
        producer = PacedProducer(a, events, rate=700)
        producer.start()
        time.sleep(3.0)
        b.start()
        time.sleep(3.0)
        assert b.terminate(timeout=30.0), f"SIGTERM did not stop the worker in 30 s; see {b.log}"
        b.start()
        time.sleep(2.0)
        a.stop(signal.SIGKILL)
        a.start()
        partitions = producer.finish()
        wait_caught_up([a, b])
        expected = replay_partitions(events, partitions)
        _event_clock_checks("two workers: SIGTERM, SIGKILL", [a, b], events, expected, redis)
    finally:
        a.stop()
        b.stop()
        redis.stop()


def test_broker_stopped_and_restarted_mid_stream(services: dict[str, str], tmp_path: Path) -> None:
    """(c) The broker goes away for a while in the middle of the stream and comes back."""
    if os.environ.get("CHURNWATCH_KAFKA_BOOTSTRAP"):
        pytest.skip("the broker is not ours to stop (CHURNWATCH_KAFKA_BOOTSTRAP is set)")
    services_sh = ROOT / "deploy" / "local" / "services.sh"
    events = list(generate(SimConfig(customers=200, days=40, seed=SEED + 2, churn_share=0.3)))
    half = len(events) // 2
    redis = RedisServer(tmp_path).start()
    worker = WorkerProcess(services, "broker", CHURNWATCH_PARTITIONS=PARTITIONS, CHURNWATCH_REDIS_URL=redis.url)
    try:
        worker.start()
        first = PacedProducer(worker, events[:half], rate=2000)
        first.run()
        partitions = first.finish()
        time.sleep(1.0)
        subprocess.run([str(services_sh), "down", "kafka"], check=True, capture_output=True, timeout=120)
        time.sleep(8.0)
        subprocess.run([str(services_sh), "up", "kafka"], check=True, capture_output=True, timeout=300)
        wait_for_leaders(worker.settings.kafka_bootstrap, worker.settings.input_topics.values())
        second = PacedProducer(worker, events[half:], rate=2000)
        second.run()
        partitions |= second.finish()
        wait_caught_up([worker], timeout=180.0)
        assert worker.proc is not None and worker.proc.poll() is None, f"the worker died; see {worker.log}"
        expected = replay_partitions(events, partitions)
        _event_clock_checks("broker restart", [worker], events, expected, redis)
    finally:
        worker.stop()
        redis.stop()


def test_wall_clock_late_start_on_a_backlog_with_kills_and_a_second_worker(services: dict[str, str]) -> None:
    """Wall clock (the production default): a worker starts late on several days of backlog on
    uneven topics (payments sparse, logins dense), is killed while it catches up, a second worker
    joins and leaves. No good event dead-lettered, no alert id with two contents, lag 0, and every
    customer's state equal to replay's at the same time."""
    now = time.time()
    events = list(generate(SimConfig(customers=400, days=12, end=now - 30, seed=SEED + 3, churn_share=0.3)))
    backlog = int(len(events) * 0.8)
    env = {"CHURNWATCH_CLOCK": "wall", "CHURNWATCH_TICK_SECONDS": "5", "CHURNWATCH_PARTITIONS": PARTITIONS}
    a = WorkerProcess(services, "wall", **env)
    b = WorkerProcess(services, "wall", prefix=a.prefix, **env)
    b.env["CHURNWATCH_APP_ID"] = a.env["CHURNWATCH_APP_ID"]
    try:
        ensure_topics(a.settings, int(PARTITIONS))
        first = PacedProducer(a, events[:backlog], rate=50_000)
        first.run()
        partitions = first.finish()
        a.start()  # late: several days of backlog wait for it
        rest = PacedProducer(a, events[backlog:], rate=400)
        rest.start()
        time.sleep(1.0)
        a.stop(signal.SIGKILL)
        a.start()
        b.start()
        time.sleep(3.0)
        assert b.terminate(timeout=30.0), f"SIGTERM did not stop the worker in 30 s; see {b.log}"
        partitions |= rest.finish()
        wait_caught_up([a])
        bootstrap = a.settings.kafka_bootstrap
        dead = consume(bootstrap, a.topic("dead_letters"), idle=1.0)
        assert not dead, f"{len(dead)} dead letters, first: {dead[0][1]['reason']}: {dead[0][1]['detail']}; {a.log}"
        live = [x for _, x in consume(bootstrap, a.topic("alerts"), idle=2.0)]
        check = check_alerts(live, None)
        _record("wall clock late start", f"{len(events)} events ({backlog} backlog); live: {check.summary()}")
        assert not check.changed, f"alert ids with two contents: {check.changed[:5]}; logs {a.log} {b.log}"
        skips = consumer_skips([a, b])
        assert not skips, f"the consumer skipped input offsets: {skips[:3]}; logs {a.log} {b.log}"
        expected = replay_partitions(events, partitions, wall=True)
        sample = _sample(events)
        wrong = _settle(lambda: view_differences(a, expected, sample, at_now=True))
        assert not wrong, f"/customers differs from replay for {len(wrong)}: {dict(list(wrong.items())[:3])}"
    finally:
        a.stop()
        b.stop()
