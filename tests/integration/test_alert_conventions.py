"""A real worker: every alert on the topic carries the CloudEvents headers (binary mode) and its value
validates against the AsyncAPI document; a wall-clock worker fed old history warns in its log, and
`churnwatch simulate` refuses to send such history to a wall-clock setup."""

from __future__ import annotations

import json
import subprocess
import time

from jsonschema import Draft202012Validator
from kafka import KafkaConsumer
from ruamel.yaml import YAML

from agents import asyncapi
from agents.cli_alerts import time_key
from streams.simulate import SimConfig, generate
from tests.integration.harness import CHURNWATCH, WorkerProcess, produce

DOC = json.loads(json.dumps(YAML(typ="safe").load(asyncapi.OUT.read_text())))


def test_alerts_carry_cloudevents_headers_and_validate_against_the_asyncapi_document(
    services: dict[str, str],
) -> None:
    worker = WorkerProcess(services, "cloudevents").start()
    try:
        events = list(generate(SimConfig(customers=80, days=40, seed=11, churn_share=0.5)))
        produce(worker, events)
        worker.wait_for_events(len(events))
        time.sleep(2)
        consumer = KafkaConsumer(
            worker.topic("alerts"),
            bootstrap_servers=services["bootstrap"],
            auto_offset_reset="earliest",
            consumer_timeout_ms=3000,
        )
        messages = list(consumer)
        consumer.close()
    finally:
        worker.stop()
    assert messages
    # `churnwatch alerts` reads the same topic: the table in event-time order and the summary
    table = subprocess.run([str(CHURNWATCH), "alerts"], env=worker.env, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    rows, summary = table.stdout.split("\n\n", 1)
    times = [row.split()[0] for row in rows.splitlines()[1:]]
    assert len(times) == len(messages) and times == sorted(times, key=time_key)
    assert summary.startswith(f"{len(messages)} alerts (")
    payload = Draft202012Validator({"$ref": "#/components/schemas/Alert", "components": DOC["components"]})
    headers_schema = Draft202012Validator(DOC["components"]["messages"]["Alert"]["headers"])
    for m in messages:
        alert = json.loads(m.value)
        payload.validate(alert)
        headers = {k: v.decode() for k, v in m.headers}
        headers_schema.validate(headers)
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_id"] == alert["alert_id"]
        assert headers["ce_subject"] == alert["customer_id"] == m.key.decode()
        assert headers["ce_type"] == f"io.churnwatch.alert.{alert['status']}"
        assert headers["ce_time"] == alert["emitted_at"]
        assert headers["ce_source"] == f"/churnwatch/{worker.env['CHURNWATCH_APP_ID']}"
        assert headers["content-type"] == "application/json"


def test_a_wall_clock_worker_fed_old_history_warns_and_simulate_refuses_it(services: dict[str, str]) -> None:
    worker = WorkerProcess(services, "dlwarn", CHURNWATCH_CLOCK="wall", CHURNWATCH_DEAD_LETTER_WARN_SECONDS="2").start()
    try:
        refused = subprocess.run(
            [str(CHURNWATCH), "simulate", "--customers", "20", "--days", "30"],
            env=worker.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 2
        assert "CHURNWATCH_CLOCK=event" in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        recent = list(generate(SimConfig(customers=30, days=2, end=time.time(), seed=3, customer_prefix="new-")))
        produce(worker, recent)
        worker.wait_for_events(len(recent))
        history = list(generate(SimConfig(customers=60, days=30, end=time.time() - 10 * 86400, seed=3)))
        produce(worker, history)  # behind the events it has seen by far more than the allowed lateness
        worker.wait_for_events(len(recent) + len(history))
        deadline = time.monotonic() + 30
        warning = ""
        while time.monotonic() < deadline and not warning:
            warning = next((x for x in worker.log.read_text().splitlines() if "dead-letter topic" in x), "")
            time.sleep(0.5)
    finally:
        worker.stop()
    assert "WARNING" in warning and "top reason too_late" in warning and "CHURNWATCH_CLOCK=event" in warning
    assert worker.log.read_text().count("top reason too_late") <= 3  # once per interval, not per event
