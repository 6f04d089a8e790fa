"""Issue 11 items 2 and 3: a customer's bounded history, what changed since its previous alert,
and acknowledgements (suppression, a worse tier let through, expiry by event time, replay)."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.replay import replay
from rules import history
from rules.acknowledgement import Acknowledgement, BadAcknowledgement, parse_request
from rules.engine import Engine, EngineConfig
from rules.pack import load_pack
from rules.state import CustomerState
from streams.events import Event
from streams.parse import event_to_dict
from streams.timefmt import format_ts
from tests.unit.helpers import DAY, T0, login, payment, ticket

PACK = load_pack()
HOUR = 3600.0


def engine(**kw: Any) -> Engine:
    return Engine(PACK, EngineConfig(**kw))


def sub(cid: str, ts: float, action: str) -> Event:
    return payment(cid, ts, kind="subscription", action=action)


def survey(cid: str, ts: float, nps: int) -> Event:
    return ticket(cid, ts, f"s-{ts}", "survey", nps=nps)


def run(e: Engine, items: list[Any]) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Acknowledgement):  # as replay does
            alerts += e.advance(item.ts)
            assert e.acknowledge(item)
        else:
            alerts += e.process(item)
    return alerts


def ack(cid: str, ts: float, until: str, by: str = "ana") -> Acknowledgement:
    return parse_request(cid, {"by": by, "until": until, "note": "on it"}, ts)


# -- what changed since the previous alert --------------------------------------------------------


def test_alerts_carry_what_changed_since_the_previous_alert() -> None:
    e = engine()
    alerts = run(
        e,
        [
            sub("c", T0, "paused"),  # watch 30: subscription_downgrade
            survey("c", T0 + HOUR, 3),  # watch 44: + nps_detractor (no alert)
            sub("c", T0 + 2 * HOUR, "cancelled"),  # critical 100: subscription_cancelled, nps_detractor
            sub("c", T0 + 3 * HOUR, "resumed"),  # healthy 20: nps_detractor -> resolved
            sub("c", T0 + 8 * DAY, "paused"),  # watch again, after the cooldown
        ],
    )
    assert [(a["status"], a["tier"]) for a in alerts] == [
        ("firing", "watch"),
        ("firing", "critical"),
        ("resolved", "healthy"),
        ("firing", "at_risk" if alerts[3]["risk_score"] >= 50 else "watch"),
    ]
    first, critical, resolved, again = (a["changes"] for a in alerts)
    assert first == {
        "previous_score": None,
        "previous_tier": "healthy",
        "previous_event_time": None,
        "rules_added": ["subscription_downgrade"],
        "rules_removed": [],
    }
    assert critical == {
        "previous_score": 30.0,
        "previous_tier": "watch",
        "previous_event_time": format_ts(T0),
        "rules_added": ["subscription_cancelled", "nps_detractor"],
        "rules_removed": ["subscription_downgrade"],
    }
    assert resolved == {
        "previous_score": 100.0,
        "previous_tier": "critical",
        "previous_event_time": format_ts(T0 + 2 * HOUR),
        "rules_added": [],
        "rules_removed": ["subscription_cancelled"],
    }
    assert again["previous_tier"] == "healthy" and again["previous_score"] == 20.0
    assert again["previous_event_time"] == format_ts(T0 + 3 * HOUR)  # a resolved alert's own time
    assert again["rules_added"] == ["subscription_downgrade"] and again["rules_removed"] == []


def test_the_alert_id_covers_the_changes() -> None:
    plain = run(engine(), [sub("c", T0, "cancelled")])[0]
    after_watch = run(engine(), [sub("c", T0 - 8 * DAY, "paused"), sub("c", T0, "cancelled")])[-1]
    fields = ("customer_id", "status", "tier", "previous_tier", "event_time", "risk_score", "rules", "revenue_at_risk")
    assert [plain[f] for f in fields[:3]] == [after_watch[f] for f in fields[:3]]
    assert plain["changes"] != after_watch["changes"] and plain["alert_id"] != after_watch["alert_id"]


# -- history ------------------------------------------------------------------------------------------


def test_history_records_tier_and_rule_changes_not_repeats() -> None:
    e = engine()
    run(e, [sub("c", T0, "paused"), login("c", T0 + 60), survey("c", T0 + HOUR, 3), sub("c", T0 + 2 * HOUR, "resumed")])
    shown = e.history("c")
    assert shown is not None and shown["limit"] == history.DEFAULT_LIMIT and shown["acknowledgement"] is None
    assert [(h["from_tier"], h["to_tier"], h["rules_added"], h["rules_removed"]) for h in shown["entries"]] == [
        ("healthy", "watch", ["subscription_downgrade"], []),
        ("watch", "watch", ["nps_detractor"], []),
        ("watch", "healthy", [], ["subscription_downgrade"]),
    ]
    assert [h["at"] for h in shown["entries"]] == [format_ts(T0), format_ts(T0 + HOUR), format_ts(T0 + 2 * HOUR)]
    assert [(h["from_score"], h["to_score"]) for h in shown["entries"]] == [(0.0, 30.0), (30.0, 44.0), (44.0, 20.0)]
    assert e.history("nobody") is None


def test_history_is_bounded_and_the_oldest_kept_change_knows_where_it_started() -> None:
    e = engine(history_limit=4)
    items = []
    for i in range(41):  # flapping: 41 changes
        items.append(sub("c", T0 + i * HOUR, "paused" if i % 2 == 0 else "resumed"))
    run(e, items)
    e.commit()
    shown = e.history("c")
    assert shown is not None
    entries = shown["entries"]
    assert len(entries) == 4
    assert [(h["from_tier"], h["to_tier"]) for h in entries] == [("watch", "healthy"), ("healthy", "watch")] * 2
    assert entries[0]["rules_removed"] == ["subscription_downgrade"]  # from the base: the last change dropped
    assert entries[-1]["at"] == format_ts(T0 + 40 * HOUR)
    one = engine(history_limit=4)
    run(one, items[:4])
    one.commit()
    kept = CustomerState.decode(e.store["c"]).history
    assert len(kept) == 5 and kept[0][1] == history.BASE  # 4 changes and where the oldest started
    # as small after 40 changes as after 4
    assert len(orjson.dumps(kept)) - len(orjson.dumps(CustomerState.decode(one.store["c"]).history)) < 40


def test_trim_keeps_a_base_even_when_acknowledgements_fill_the_history() -> None:
    h: list[list[Any]] = []
    history.record(h, T0, 2, 58.0, ["chargeback", "subscription_downgrade"], 3)
    for i in range(5):
        history.append(h, [T0 + i + 1, history.ACK, "ana", T0 + DAY, 2], 3)
    history.record(h, T0 + 10, 1, 40.0, ["chargeback"], 3)
    shown = history.entries(h)
    assert len(shown) == 3 and shown[-1]["type"] == "change"
    assert (shown[-1]["from_tier"], shown[-1]["from_score"], shown[-1]["rules_removed"]) == (
        "at_risk",
        58.0,
        ["subscription_downgrade"],
    )


# -- acknowledgements ---------------------------------------------------------------------------------


def test_an_acknowledgement_suppresses_repeats_and_lets_a_worse_tier_through() -> None:
    e = engine()
    alerts = run(
        e,
        [
            sub("c", T0, "paused"),  # firing watch
            ack("c", T0 + HOUR, "30d"),  # acknowledged at watch
            sub("c", T0 + 2 * HOUR, "resumed"),  # resolved: published, the acknowledgement stays
            sub("c", T0 + 8 * DAY, "paused"),  # watch again after the cooldown: not published
            sub("c", T0 + 9 * DAY, "resumed"),  # nothing (the alerted tier stayed healthy)
            sub("c", T0 + 10 * DAY, "paused"),  # watch: not published
            sub("c", T0 + 11 * DAY, "cancelled"),  # critical, worse than watch: published
        ],
    )
    assert [(a["status"], a["tier"]) for a in alerts] == [
        ("firing", "watch"),
        ("resolved", "healthy"),
        ("firing", "critical"),
    ]
    assert alerts[-1]["previous_tier"] == "healthy"
    assert e.held_back == 2  # the two relapses to watch
    assert alerts[-1]["changes"]["previous_event_time"] == format_ts(T0 + 2 * HOUR)
    view = e.view("c")
    assert view is not None and view["acknowledgement"] == {
        "by": "ana",
        "at": format_ts(T0 + HOUR),
        "until": format_ts(T0 + HOUR + 30 * DAY),
        "tier": "watch",
        "note": "on it",
    }
    kinds = [h["type"] for h in (e.history("c") or {})["entries"]]
    assert kinds.count("acknowledged") == 1 and "acknowledgement_ended" not in kinds


@pytest.mark.parametrize("scan_all", [False, True])
def test_an_acknowledgement_expires_by_event_time_and_the_held_alert_comes_then(scan_all: bool) -> None:
    e = engine(scan_all=scan_all)
    until = T0 + 10 * DAY + 5 * HOUR
    alerts = run(
        e,
        [
            sub("c", T0, "paused"),
            ack("c", T0 + HOUR, format_ts(until)),
            sub("c", T0 + 2 * HOUR, "resumed"),
            sub("c", T0 + 8 * DAY, "paused"),  # held back by the acknowledgement
            login("other", T0 + 9 * DAY),
        ],
    )
    assert [(a["status"], a["tier"]) for a in alerts] == [("firing", "watch"), ("resolved", "healthy")]
    assert (e.view("c") or {})["acknowledgement"] is not None
    later = e.process(login("other", T0 + 12 * DAY))  # event time passes the end: ticks run
    assert [(a["customer_id"], a["status"], a["tier"]) for a in later] == [("c", "firing", "watch")]
    first_tick_after = (until // DAY + 1) * DAY
    assert later[0]["event_time"] == format_ts(first_tick_after)
    assert (e.view("c") or {})["acknowledgement"] is None
    ended = [h for h in (e.history("c") or {})["entries"] if h["type"] == "acknowledgement_ended"]
    assert ended == [{"type": "acknowledgement_ended", "at": format_ts(until), "reason": "expired"}]


def test_acknowledgements_survive_the_state_encoding() -> None:
    e = engine()
    run(e, [sub("c", T0, "paused"), ack("c", T0 + HOUR, "7d")])
    e.commit()
    again = Engine(PACK, EngineConfig(), dict(e.store))
    again.rebuild_index()
    assert again.view("c") == e.view("c") and again.history("c") == e.history("c")
    assert (again.view("c") or {})["acknowledgement"]["by"] == "ana"


def test_an_unknown_customer_cannot_be_acknowledged() -> None:
    assert not engine().acknowledge(ack("nobody", T0, "7d"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"until": "7d"}, "by"),
        ({"by": "", "until": "7d"}, "by"),
        ({"by": "x" * 129, "until": "7d"}, "by"),
        ({"by": "ana"}, "until"),
        ({"by": "ana", "until": 7}, "until"),
        ({"by": "ana", "until": "7 days"}, "until"),
        ({"by": "ana", "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"by": "ana", "until": "2026-12-01T00:00:00"}, "until"),
        ({"by": "ana", "until": "999999d"}, "until"),
        ({"by": "ana", "until": "7d", "note": "n" * 501}, "note"),
        ({"by": "ana", "until": "7d", "note": 3}, "note"),
        ({"by": "ana", "until": "7d", "snooze": True}, "snooze"),
    ],
)
def test_bad_acknowledgements_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(BadAcknowledgement) as caught:
        parse_request("c", body, T0)
    assert caught.value.field == field and caught.value.detail


def test_until_as_a_duration_or_a_time() -> None:
    assert parse_request("c", {"by": "a", "until": "90m"}, T0).until == T0 + 5400
    assert parse_request("c", {"by": "a", "until": "2w"}, T0).until == T0 + 14 * DAY
    assert parse_request("c", {"by": "a", "until": format_ts(T0 + DAY)}, T0).until == T0 + DAY


def _line(item: Any) -> bytes:
    if isinstance(item, Acknowledgement):
        obj = {"type": "acknowledgement", "customer_id": item.customer_id, "ts": format_ts(item.ts)}
        obj |= {"by": item.by, "until": format_ts(item.until), "note": item.note}
    else:
        obj = event_to_dict(item)
    return orjson.dumps(obj)


def test_replay_applies_acknowledgement_lines_as_the_engine_does(tmp_path: Path) -> None:
    items: list[Any] = [
        sub("c", T0, "paused"),
        login("d", T0 + 10),
        ack("c", T0 + HOUR, "30d"),
        sub("c", T0 + 2 * HOUR, "resumed"),
        sub("c", T0 + 8 * DAY, "paused"),
        sub("c", T0 + 11 * DAY, "cancelled"),
        login("d", T0 + 40 * DAY),
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(_line(i) for i in reversed(items)) + b"\n")  # replay sorts them
    out = io.BytesIO()
    result = replay([path], PACK, out, final_tick=False)
    assert result.acknowledgements == 1 and not result.bad_lines
    replayed = [orjson.loads(line) for line in out.getvalue().splitlines()]
    direct = run(engine(), items)
    for a in replayed:
        a.pop("emitted_at")
    assert replayed == direct
    assert [(a["status"], a["tier"]) for a in direct] == [
        ("firing", "watch"),
        ("resolved", "healthy"),
        ("firing", "critical"),
    ]


def test_replay_reports_an_acknowledgement_of_an_unknown_customer(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(_line(ack("c", T0, "7d")) + b"\n" + b'{"type": "acknowledgement", "customer_id": "c"}\n')
    result = replay([path], PACK, io.BytesIO())
    assert [b.reason for b in result.bad_lines] == ["schema", "unknown_customer"]


def test_acknowledging_after_a_resolved_alert_covers_the_tier_that_fired() -> None:
    e = engine()
    items: list[Any] = [sub("c", T0, "paused"), sub("c", T0 + HOUR, "resumed"), ack("c", T0 + 2 * HOUR, "30d")]
    items += [sub("c", T0 + 8 * DAY, "paused")]  # a relapse to watch, after the cooldown: held back
    alerts = run(e, items)
    assert [(a["status"], a["tier"]) for a in alerts] == [("firing", "watch"), ("resolved", "healthy")]
    assert (e.view("c") or {})["acknowledgement"]["tier"] == "watch"


def _with_acks(seed: int) -> list[Any]:
    """Simulated events with acknowledgements right after most firing alerts (and a few at random)."""
    from streams.parse import parse_line
    from streams.simulate import SimConfig, generate

    rng = random.Random(seed)
    cfg = SimConfig(customers=30, days=90, seed=seed, churn_share=0.6)
    events = [parse_line(orjson.dumps(e)) for e in generate(cfg)]
    probe = engine()
    items: list[Any] = []
    for ev in events:
        items.append(ev)
        fired = [a for a in probe.process(ev) if a["status"] == "firing"]
        if fired or rng.random() < 0.01:
            item = ack(ev.customer_id, ev.ts, f"{rng.randint(1, 40)}d", by=f"agent-{rng.randint(1, 3)}")
            items.append(item)
            probe.acknowledge(item)
    return items


def _run_all(items: list[Any], **kw: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    e = engine(**kw)
    alerts = run(e, items) + e.finish()
    return alerts, {cid: e.history(cid) for cid in sorted(e.customers())}


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([6 * HOUR, DAY]))
def test_with_acknowledgements_the_due_index_equals_scanning_everyone(seed: int, tick: float) -> None:
    items = _with_acks(seed)
    assert _run_all(items, tick_seconds=tick) == _run_all(items, tick_seconds=tick, scan_all=True)


def test_acknowledging_after_each_firing_holds_relapses_back_in_simulated_traffic() -> None:
    items = _with_acks(5)
    acked, _ = _run_all(items)
    plain, _ = _run_all([i for i in items if not isinstance(i, Acknowledgement)])
    assert len(acked) < len(plain)
    assert {a["customer_id"] for a in acked} == {a["customer_id"] for a in plain}
