"""The worker's adapter on time: lateness against the partition's watermark, redelivered offsets."""

from __future__ import annotations

import orjson

from agents.metrics import Metrics
from agents.pack_file import load_pack
from agents.pipeline import Outcome, Pipeline
from agents.settings import Settings
from tests.unit.helpers import DAY, T0

NOW = T0 + 30 * DAY


def _pipeline() -> Pipeline:
    return Pipeline(Settings(clock="wall"), load_pack(), Metrics(), lambda _p: {})  # type: ignore[call-arg]


def _send(pipeline: Pipeline, etype: str, offset: int, ts: float, **fields: object) -> str:
    topic = pipeline.settings.input_topics[etype]
    body = {"event_id": f"{etype}-{offset}", "customer_id": "c-1", "ts": ts, **fields}
    out = pipeline.handle(topic, 0, offset, b"c-1", orjson.dumps(body), NOW, caught_up=lambda _t: False)
    return out.dead_letter["reason"] if out.dead_letter else "applied"


def test_a_topic_running_ahead_during_a_catch_up_never_makes_the_others_late() -> None:
    p = _pipeline()
    for i, topic in enumerate(("order", "support_ticket")):
        assert (
            _send(
                p,
                topic,
                i,
                T0,
                **({"order_id": "o", "amount": 5} if topic == "order" else {"ticket_id": "t", "action": "opened"}),
            )
            == "applied"
        )
    # the sparse payments topic is read ahead: 10 days later than the logins still to come
    assert _send(p, "payment", 0, T0 + 10 * DAY, kind="charge", amount=5, status="succeeded") == "applied"
    # logins of the backlog, days behind the payment: good events, not too late
    assert all(_send(p, "login", i, T0 + i * 3600) == "applied" for i in range(1, 50))


def test_an_event_behind_every_topic_by_more_than_the_lateness_is_too_late() -> None:
    p = _pipeline()
    for topic, offset in (("login", 0), ("order", 0), ("payment", 0), ("support_ticket", 0)):
        fields: dict[str, object] = {
            "order": {"order_id": "o", "amount": 5},
            "payment": {"kind": "charge", "amount": 5, "status": "succeeded"},
            "support_ticket": {"ticket_id": "t", "action": "opened"},
        }.get(topic, {})
        assert _send(p, topic, offset, T0 + 10 * DAY, **fields) == "applied"
    assert _send(p, "login", 1, T0) == "too_late"


def test_a_redelivered_offset_is_a_duplicate_whatever_its_time() -> None:
    p = _pipeline()
    assert _send(p, "login", 7, T0) == "applied"
    before = p.metrics.events.labels(p.settings.input_topics["login"], "duplicate")._value.get()
    assert _send(p, "login", 7, T0) == "applied"  # no dead letter
    after = p.metrics.events.labels(p.settings.input_topics["login"], "duplicate")._value.get()
    assert after == before + 1


def test_a_topic_sought_back_drops_its_held_events_and_holds_the_others_until_read_again() -> None:
    """The consumer sought logins back to their committed offset (the worker's events received
    since come again, from there): the held logins go, and no other topic's event is applied
    past where logins are read again, so every login is applied in event-time order, once."""
    p = Pipeline(Settings(clock="event", align_idle_seconds=0), load_pack(), Metrics(), lambda _p: {})  # type: ignore[call-arg]
    logins = p.settings.input_topics["login"]
    orders = p.settings.input_topics["order"]
    applied: list[tuple[str, int]] = []

    def send(topic: str, offset: int, ts: float, **fields: object) -> None:
        body = {"event_id": f"{topic}-{offset}", "customer_id": "c-1", "ts": ts, **fields}
        p.handle(topic, 0, offset, b"c-1", orjson.dumps(body), NOW, ack=lambda: applied.append((topic, offset)))

    send(logins, 5, T0 + 3600)  # received after an assignment, before the seek
    send(orders, 2, T0 + 1800, order_id="o", amount=5)
    assert applied == [] and len(p.aligners[0]) == 2  # held: payments and tickets unread
    p.restart(0, logins)
    assert len(p.aligners[0]) == 1  # the order stays: its topic was not sought
    caught_up = {logins: False, orders: True}
    out = Outcome(received=NOW)
    p.release(0, lambda t: caught_up.get(t, True), out)
    assert applied == []  # logins hold everything back until read again (the order is after login 4)
    for offset, ts in ((4, T0), (5, T0 + 3600)):  # from the committed offset, in order
        send(logins, offset, ts)
    caught_up[logins] = True
    p.release(0, lambda t: caught_up.get(t, True), out)
    assert applied == [(logins, 4), (orders, 2), (logins, 5)]
