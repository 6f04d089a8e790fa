"""The alert lifecycle of contract section 6: firing, resolved, cooldown, deterministic ids."""

from __future__ import annotations

from typing import Any

import orjson

from agents.pack_file import load_pack
from rules.alerts import alert_id, alerted_tier, decide, new_memory, revenue_at_risk
from rules.pack import Evaluation
from rules.records import AlertMemory
from rules.signals import SIGNAL_NAMES
from tests.unit.helpers import ALERT_FIELDS, CONTRACT_EXAMPLE_RULE

DAY = 86400.0
T0 = 1_795_357_790.0  # 2026-11-22T14:29:50Z
COOLDOWN = 7 * DAY
PACK = load_pack()
SCORES = {"healthy": 0.0, "watch": 30.0, "at_risk": 61.2, "critical": 80.0}


def ev(tier: str) -> Evaluation:
    return Evaluation(SCORES[tier], tier, ())


def run(tiers: list[tuple[float, str]], memory: list[Any] | None = None, **kw: Any) -> list[tuple[str, str, str]]:
    """Feed (time, tier) evaluations; the (status, tier, previous_tier) of each alert published."""
    memory = memory if memory is not None else new_memory()
    out = []
    for t, tier in tiers:
        memory, alert = decide(memory, ev(tier), customer_id="c-1", t=t, cooldown=COOLDOWN, signals={}, **kw)
        if alert is not None:
            out.append((alert["status"], alert["tier"], alert["previous_tier"]))
    return out


def test_rising_tiers_fire_with_the_alerted_tier_as_previous() -> None:
    assert run([(T0, "watch"), (T0 + 1, "at_risk"), (T0 + 2, "critical")]) == [
        ("firing", "watch", "healthy"),
        ("firing", "at_risk", "watch"),
        ("firing", "critical", "at_risk"),
    ]
    assert run([(T0, "critical")]) == [("firing", "critical", "healthy")]  # a jump skips the tiers between


def test_same_tier_and_falls_above_healthy_publish_nothing() -> None:
    assert run([(T0, "at_risk"), (T0 + 1, "at_risk"), (T0 + 2, "watch"), (T0 + 3, "at_risk"), (T0 + 4, "watch")]) == [
        ("firing", "at_risk", "healthy")
    ]


def test_fall_to_healthy_resolves_from_the_alerted_tier() -> None:
    assert run([(T0, "critical"), (T0 + DAY, "watch"), (T0 + 2 * DAY, "healthy"), (T0 + 3 * DAY, "healthy")]) == [
        ("firing", "critical", "healthy"),
        ("resolved", "healthy", "critical"),
    ]
    assert run([(T0, "healthy"), (T0 + DAY, "healthy")]) == []  # never alerted: nothing to resolve


def test_flapping_within_the_cooldown_fires_once() -> None:
    flaps = [(T0 + i * DAY, "watch" if i % 2 == 0 else "healthy") for i in range(6)]  # watch, healthy, ... 5 days
    assert run(flaps) == [("firing", "watch", "healthy"), ("resolved", "healthy", "watch")]


def test_cooldown_ends_after_seven_days() -> None:
    steps = [(T0, "watch"), (T0 + DAY, "healthy"), (T0 + COOLDOWN - 1, "watch"), (T0 + COOLDOWN, "watch")]
    assert run(steps) == [
        ("firing", "watch", "healthy"),
        ("resolved", "healthy", "watch"),
        ("firing", "watch", "healthy"),  # at exactly the cooldown it may fire again
    ]


def test_cooldown_covers_higher_tiers_but_not_lower_ones() -> None:
    # a critical firing 2 days ago suppresses at_risk; a watch firing does not suppress at_risk
    assert run([(T0, "critical"), (T0 + DAY, "healthy"), (T0 + 2 * DAY, "at_risk")]) == [
        ("firing", "critical", "healthy"),
        ("resolved", "healthy", "critical"),
    ]
    assert run([(T0, "watch"), (T0 + DAY, "healthy"), (T0 + 2 * DAY, "at_risk")]) == [
        ("firing", "watch", "healthy"),
        ("resolved", "healthy", "watch"),
        ("firing", "at_risk", "healthy"),
    ]


def test_a_suppressed_rise_changes_nothing() -> None:
    memory = new_memory()
    memory, _ = decide(memory, ev("watch"), customer_id="c", t=T0, cooldown=COOLDOWN, signals={})
    memory, _ = decide(memory, ev("healthy"), customer_id="c", t=T0 + 1, cooldown=COOLDOWN, signals={})
    before = orjson.dumps(memory, default=list)
    after, alert = decide(memory, ev("watch"), customer_id="c", t=T0 + 2, cooldown=COOLDOWN, signals={})
    assert alert is None and orjson.dumps(after, default=list) == before and alerted_tier(after) == "healthy"
    # then a rise to at_risk (never fired) fires, from the alerted tier healthy
    _, alert = decide(after, ev("at_risk"), customer_id="c", t=T0 + 3, cooldown=COOLDOWN, signals={})
    assert alert is not None and (alert["tier"], alert["previous_tier"]) == ("at_risk", "healthy")


def test_memory_is_small_serialisable_and_not_modified_in_place() -> None:
    memory = new_memory()
    assert alerted_tier(memory) == "healthy"
    new, alert = decide(memory, ev("at_risk"), customer_id="c", t=T0, cooldown=COOLDOWN, signals={})
    assert alert is not None and memory == new_memory()
    assert AlertMemory.of(orjson.loads(orjson.dumps(new, default=list))) == new and alerted_tier(new) == "at_risk"
    # the alerted tier and firing times, and the previous alert's score and rules (for ``changes``)
    assert len(orjson.dumps(new[:2], default=list)) < 40 and new.previous == [new.previous[0], ""]
    # a memory read back from storage (lists, None) works the same; so does a missing one
    restored = orjson.loads(orjson.dumps(new, default=list))
    assert decide(restored, ev("healthy"), customer_id="c", t=T0 + 1, cooldown=COOLDOWN, signals={})[1] is not None
    assert decide(None, ev("watch"), customer_id="c", t=T0, cooldown=COOLDOWN, signals={})[1] is not None
    assert decide([0, None], ev("watch"), customer_id="c", t=T0, cooldown=COOLDOWN, signals={})[1] is not None
    # a memory kept as tuples keeps its cooldown too
    as_tuple = (0, (None, T0, None, None))
    after = decide(as_tuple, ev("watch"), customer_id="c", t=T0 + DAY, cooldown=COOLDOWN, signals={})
    assert after == (AlertMemory(0, (None, T0, None, None)), None)


def signals_of(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(SIGNAL_NAMES)
    return base | {"subscription_status": "active", "logins_total": 9, "orders_total": 5} | kw


def test_firing_alert_has_the_contract_fields() -> None:
    signals = signals_of(days_since_last_login=15.2, login_trend=0.1, logins_7d=0, customer_value=1840.0)
    evaluation = PACK.evaluate(signals)
    assert (evaluation.score, evaluation.tier) == (51.3, "at_risk")
    _, alert = decide(new_memory(), evaluation, customer_id="c-42", t=T0, cooldown=COOLDOWN, signals=signals)
    assert alert is not None
    assert list(alert) == list(ALERT_FIELDS)
    assert alert["changes"] == {
        "previous_score": None,
        "previous_tier": "healthy",
        "previous_event_time": None,
        "rules_added": [h.rule for h in evaluation.hits],
        "rules_removed": [],
    }
    assert alert["schema_version"] == 1 and "emitted_at" not in alert
    assert (alert["customer_id"], alert["status"], alert["tier"], alert["previous_tier"]) == (
        "c-42",
        "firing",
        "at_risk",
        "healthy",
    )
    assert alert["risk_score"] == 51.3
    assert alert["event_time"] == "2026-11-22T14:29:50Z"
    assert alert["rules"][0] == CONTRACT_EXAMPLE_RULE
    assert [r["rule"] for r in alert["rules"]] == ["login_inactivity", "login_decline"]
    assert alert["signals"]["logins_7d"] == 0 and alert["signals"]["customer_value"] == 1840.0
    assert alert["revenue_at_risk"] == 943.92  # 1840 x 51.3 / 100
    assert len(alert["alert_id"]) == 32 and int(alert["alert_id"], 16) >= 0
    orjson.dumps(alert)  # JSON-ready


def test_event_time_has_milliseconds_only_when_fractional() -> None:
    _, alert = decide(new_memory(), ev("watch"), customer_id="c", t=T0 + 0.12, cooldown=COOLDOWN, signals={})
    assert alert is not None and alert["event_time"] == "2026-11-22T14:29:50.120Z"


def test_revenue_at_risk_without_customer_value_is_zero() -> None:
    assert revenue_at_risk(None, 80.0) == 0.0
    assert revenue_at_risk(1000.0, 61.2) == 612.0
    assert revenue_at_risk(333.33, 33.3) == 111.0
    _, alert = decide(new_memory(), ev("critical"), customer_id="c", t=T0, cooldown=COOLDOWN, signals={})
    assert alert is not None and alert["revenue_at_risk"] == 0.0
    _, alert = decide(
        new_memory(), ev("critical"), customer_id="c", t=T0, cooldown=COOLDOWN, signals={}, customer_value=250.0
    )
    assert alert is not None and alert["revenue_at_risk"] == 200.0


def test_resolved_alert_lists_the_rules_still_firing() -> None:
    memory, _ = decide(new_memory(), ev("watch"), customer_id="c", t=T0, cooldown=COOLDOWN, signals={})
    signals = signals_of(last_nps=4)
    evaluation = PACK.evaluate(signals)
    assert evaluation.tier == "healthy"
    _, alert = decide(memory, evaluation, customer_id="c", t=T0 + DAY, cooldown=COOLDOWN, signals=signals)
    assert alert is not None and (alert["status"], alert["tier"], alert["previous_tier"]) == (
        "resolved",
        "healthy",
        "watch",
    )
    assert alert["risk_score"] == 20.0 and [r["rule"] for r in alert["rules"]] == ["nps_detractor"]


def test_alert_id_is_deterministic_and_distinct() -> None:
    def fire(cid: str, t: float, tier: str = "watch") -> str:
        _, alert = decide(new_memory(), ev(tier), customer_id=cid, t=t, cooldown=COOLDOWN, signals={})
        assert alert is not None
        return str(alert["alert_id"])

    assert fire("c-1", T0) == fire("c-1", T0)
    ids = {fire("c-1", T0), fire("c-2", T0), fire("c-1", T0 + 1), fire("c-1", T0, "critical")}
    assert len(ids) == 4
    assert alert_id("c", "firing", "watch", "healthy", "x") != alert_id("c", "resolved", "watch", "healthy", "x")
    # a field boundary cannot be shifted to collide: "c|1" vs "c" + "1|..."
    assert alert_id("a\x1fb", "firing", "watch", "healthy", "t") != alert_id(
        "a", "b\x1ffiring", "watch", "healthy", "t"
    )


def test_signals_may_be_computed_only_when_an_alert_is_built() -> None:
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"customer_value": 500.0, "logins_7d": 0}

    memory, alert = decide(new_memory(), ev("watch"), customer_id="c", t=T0, cooldown=COOLDOWN, signals=compute)
    assert alert is not None and alert["signals"] == {"customer_value": 500.0, "logins_7d": 0}
    assert alert["revenue_at_risk"] == 150.0 and calls == [1]
    memory, alert = decide(memory, ev("watch"), customer_id="c", t=T0 + 1, cooldown=COOLDOWN, signals=compute)
    assert alert is None and calls == [1]  # nothing published: not computed


def test_an_alert_id_never_stands_for_two_contents() -> None:
    """The same transition at the same time, decided on other evidence, is another alert."""

    def fire(signals: dict[str, Any]) -> dict[str, Any]:
        _, alert = decide(new_memory(), ev("watch"), customer_id="c-1", t=T0, cooldown=COOLDOWN, signals=signals)
        assert alert is not None
        return alert

    a, b, again = fire({"logins_7d": 3}), fire({"logins_7d": 2}), fire({"logins_7d": 3})
    assert a["alert_id"] != b["alert_id"] and a["alert_id"] == again["alert_id"]
