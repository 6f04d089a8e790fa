"""The AsyncAPI document: the checked-in file is what the code's models give, and what the code emits
(events from simulate, alerts, dead letters, notify's dead letters, the CloudEvents headers of an
alert) validates against it; events that the parser refuses, it refuses too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from agents import asyncapi
from agents.cli import offline
from agents.metrics import Metrics
from agents.notify.metrics import NotifyMetrics
from agents.notify.routes import Redactor, Route, Routes
from agents.notify.service import Notifier
from agents.notify.settings import NotifySettings
from agents.pipeline import Pipeline
from agents.settings import Settings
from rules.pack import load_pack
from streams import cloudevents

DOC = YAML(typ="safe").load(asyncapi.OUT.read_text())


def validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref, "components": json.loads(json.dumps(DOC["components"]))})


def payload(message: str) -> Draft202012Validator:
    return validator(DOC["components"]["messages"][message]["payload"]["$ref"])


def test_the_document_follows_the_asyncapi_3_schema() -> None:
    from jsonschema import Draft7Validator

    spec = json.loads((asyncapi.OUT.parent / "schemas" / "asyncapi-3.0.0.json").read_text())
    doc = json.loads(json.dumps(DOC))
    assert [e.message for e in Draft7Validator(spec).iter_errors(doc)] == []
    doc["operations"]["send-alerts"]["action"] = "publish"  # AsyncAPI 2's word: the schema refuses it
    assert list(Draft7Validator(spec).iter_errors(doc))


def test_the_checked_in_document_is_the_generated_one() -> None:
    assert asyncapi.main(["--check"]) == 0, "run: .venv/bin/python -m agents.asyncapi"
    assert DOC["asyncapi"] == "3.0.0"
    assert {c["address"] for c in DOC["channels"].values()} >= {
        "logins",
        "orders",
        "payments",
        "support-tickets",
        "alerts",
        "dead-letters",
        "notify-dead-letters",
    }


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("asyncapi")
    events, alerts = tmp / "events.jsonl", tmp / "alerts.jsonl"
    runner = CliRunner()
    assert (
        runner.invoke(offline, ["simulate", "--customers", "200", "--days", "45", "--out", str(events)]).exit_code == 0
    )
    assert runner.invoke(offline, ["replay", str(events), "--out", str(alerts)]).exit_code == 0
    return [orjson.loads(x) for x in events.read_bytes().splitlines()], [
        orjson.loads(x) for x in alerts.read_bytes().splitlines()
    ]


def test_events_and_alerts_the_code_emits_validate(emitted: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    events, alerts = emitted
    names = {"login": "Login", "order": "Order", "payment": "Payment", "support_ticket": "SupportTicket"}
    checks = {t: payload(n) for t, n in names.items()}
    for event in events:
        body = {k: v for k, v in event.items() if k != "type"}
        checks[event["type"]].validate(body)
    assert alerts and {a["status"] for a in alerts} == {"firing", "resolved"}
    check = payload("Alert")
    for alert in alerts:
        check.validate(alert)
    headers = DOC["components"]["messages"]["Alert"]["headers"]
    for alert in alerts[:20]:
        sent = {k: v.decode() for k, v in cloudevents.kafka_headers(alert, cloudevents.source_of("churnwatch"))}
        Draft202012Validator(headers).validate(sent)
        assert sent["ce_id"] == alert["alert_id"] and sent["ce_subject"] == alert["customer_id"]


@pytest.mark.parametrize(
    ("etype", "body"),
    [
        ("Login", {"event_id": "e", "customer_id": "c", "ts": 1, "channel": "fax"}),
        ("Order", {"event_id": "e", "customer_id": "c", "ts": 1, "order_id": "o"}),
        ("Payment", {"event_id": "e", "customer_id": "c", "ts": 1, "kind": "subscription"}),
        ("Payment", {"event_id": "e", "customer_id": "c", "ts": 1, "amount": 3}),
        ("SupportTicket", {"event_id": "e", "customer_id": "c", "ts": 1, "ticket_id": "t", "action": "x"}),
        (
            "SupportTicket",
            {"event_id": "e", "customer_id": "c", "ts": 1, "ticket_id": "t", "action": "survey", "nps": 11},
        ),
        ("Login", {"event_id": "", "customer_id": "c", "ts": 1}),
    ],
)
def test_what_the_parser_refuses_the_document_refuses(etype: str, body: dict[str, Any]) -> None:
    from streams.errors import BadInput
    from streams.parse import parse_event

    wire = {"Login": "login", "Order": "order", "Payment": "payment", "SupportTicket": "support_ticket"}[etype]
    with pytest.raises(BadInput):
        parse_event(wire, orjson.dumps(body), key=None, now=10.0)
    assert list(payload(etype).iter_errors(body))


def test_dead_letters_of_the_worker_and_of_notify_validate() -> None:
    pipeline = Pipeline(Settings(clock="wall"), load_pack(), Metrics(), lambda _p: {})  # type: ignore[call-arg]
    check = payload("DeadLetter")
    for offset, value in enumerate((b"not json", b'{"event_id": "e"}', b"\xff" * 10)):
        out = pipeline.handle("logins", 0, offset, b"c-1", value, 1_800_000_000.0)
        assert out.dead_letter is not None
        check.validate(out.dead_letter)
    routes = Routes((Route(name="crm", url="https://x.example.com/hook"),), Redactor(), Path("r.yaml"))
    notifier = Notifier(NotifySettings(), routes, NotifyMetrics())  # type: ignore[call-arg]
    from aiokafka import TopicPartition

    record = notifier._dead_record(routes.routes[0], TopicPartition("alerts", 1), 5, "rejected", "HTTP 400", 1)
    record.update(alert_id="a" * 32, customer_id="c-1", alert=_an_alert())
    payload("NotifyDeadLetter").validate(record)


def _an_alert() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "alert_id": "a" * 32,
        "customer_id": "c-1",
        "status": "firing",
        "tier": "watch",
        "previous_tier": "healthy",
        "risk_score": 30.0,
        "event_time": "2026-11-22T14:16:30Z",
        "emitted_at": "2026-11-22T14:16:30.120Z",
        "rules": [],
        "signals": {},
        "revenue_at_risk": 0.0,
    }
