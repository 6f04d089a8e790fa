"""The engine: alert lifecycle, time semantics, de-duplication, out-of-order input, bounded state,
and ticks through the due-time index giving the same alerts as evaluating everyone."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.pack_file import load_pack
from rules.engine import Engine, EngineConfig, Outcome
from rules.pack import RulePack
from rules.signals import compute_signals
from rules.state import CustomerState
from streams.errors import BadInput, Reason
from streams.parse import parse_line
from streams.simulate import SimConfig, generate
from tests.unit.helpers import ALERT_FIELDS, DAY, T0, login, pack_of, payment, rule, ticket

PACK = load_pack()


def engine(**kw: Any) -> Engine:
    return Engine(PACK, EngineConfig(**kw))


def statuses(alerts: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(a["status"], a["tier"], a["previous_tier"]) for a in alerts]


def test_rising_tier_fires_then_resolves() -> None:
    e = engine()
    alerts = e.process(payment("c", T0, kind="subscription", action="paused"))  # 30: watch
    alerts += e.process(payment("c", T0 + 60, kind="chargeback", amount=5, status="succeeded"))  # 58: at_risk
    alerts += e.process(payment("c", T0 + 120, kind="subscription", action="resumed"))  # 40: watch, no alert
    assert statuses(alerts) == [("firing", "watch", "healthy"), ("firing", "at_risk", "watch")]
    assert alerts[1]["rules"][0]["rule"] in ("subscription_downgrade", "chargeback")
    later = e.process(login("c", T0 + 91 * DAY))  # chargeback leaves the 90-day window after ticks
    assert statuses(later)[-1] == ("resolved", "healthy", "at_risk")


def test_cooldown_suppresses_a_repeat_firing() -> None:
    e = engine()
    a = e.process(payment("c", T0, kind="subscription", action="paused"))
    a += e.process(payment("c", T0 + 3600, kind="subscription", action="resumed"))  # resolved
    a += e.process(payment("c", T0 + 7200, kind="subscription", action="paused"))  # within 7 days: nothing
    assert statuses(a) == [("firing", "watch", "healthy"), ("resolved", "healthy", "watch")]
    # the cooldown ends: the next evaluation (a tick) fires again
    a2 = e.process(login("c", T0 + 8 * DAY))
    assert ("firing", "watch", "healthy") in statuses(a2)


def test_flapping_within_cooldown_does_not_spam() -> None:
    e = engine()
    alerts = []
    for i in range(10):
        action = "paused" if i % 2 == 0 else "resumed"
        alerts += e.process(payment("c", T0 + i * 600, kind="subscription", action=action))
    assert statuses(alerts) == [("firing", "watch", "healthy"), ("resolved", "healthy", "watch")]


def test_alert_format_and_deterministic_id() -> None:
    a = engine().process(payment("c-42", T0, kind="subscription", action="cancelled"))[0]
    b = engine().process(payment("c-42", T0, kind="subscription", action="cancelled"))[0]
    assert a == b
    assert set(a) == set(ALERT_FIELDS)
    assert a["tier"] == "critical" and a["risk_score"] == 100.0 and a["schema_version"] == 1
    other = engine().process(payment("c-43", T0, kind="subscription", action="cancelled"))[0]
    assert other["alert_id"] != a["alert_id"]


def test_absence_fires_at_a_tick_without_events() -> None:
    e = engine()
    for d in range(5):
        e.process(login("c", T0 + d * DAY))
    quiet = e.advance(T0 + 30 * DAY)
    fired = [a for a in quiet if a["status"] == "firing" and "login_inactivity" in [r["rule"] for r in a["rules"]]]
    assert fired, quiet
    assert fired[0]["event_time"].endswith("T00:00:00Z")  # daily ticks at 00:00 UTC


def test_tick_at_t_runs_before_events_stamped_t() -> None:
    e = engine(tick_seconds=DAY)
    start = (T0 // DAY) * DAY
    for d in range(4):
        e.process(login("c", start - 20 * DAY + d * DAY))
    # the tick at `start` (a day boundary) sees 16+ days of silence and fires before the login stamped `start`
    alerts = e.process(login("c", start))
    inactivity = [a for a in alerts if "login_inactivity" in [r["rule"] for r in a["rules"]]]
    assert inactivity and inactivity[0]["signals"]["logins_7d"] == 0


def test_duplicates_change_nothing() -> None:
    e = engine()
    e.process(login("c", T0, eid="x"))
    e.commit()
    before = e.store["c"]
    result = e.process(login("c", T0 + 10, eid="x"))
    assert result == [] and result.duplicate and result.outcome is Outcome.DUPLICATE
    e.commit()
    assert e.store["c"] == before


def test_too_late_is_bad_input() -> None:
    e = engine()
    e.process(login("c", T0))
    with pytest.raises(BadInput) as info:
        e.process(login("d", T0 - 3 * DAY - 1))
    assert info.value.reason is Reason.TOO_LATE
    e.process(login("d", T0 - 3 * DAY + 1))  # within the lateness: fine


def test_state_stays_bounded_over_long_histories() -> None:
    e = engine()
    rng = random.Random(1)
    for i in range(10_000):
        t = T0 + i * 600
        kind = rng.random()
        if kind < 0.6:
            e.process(login("heavy", t))
        elif kind < 0.8:
            e.process(ticket("heavy", t, f"t{i}", "opened", priority="urgent", sentiment=-0.1))
        else:
            e.process(payment("heavy", t, kind="charge", amount=1, status="failed"))
    e.process(login("light", T0 + 10_000 * 600))
    e.commit()
    heavy, light = len(e.store["heavy"]), len(e.store["light"])
    assert heavy < 12_000 and light < 200
    # and the state is the same size after another 5,000 events: it does not grow with history
    for i in range(5_000):
        e.process(login("heavy", T0 + (10_000 + i) * 600))
    e.commit()
    assert len(e.store["heavy"]) < 12_000


def _events(customers: int = 60, days: int = 50, seed: int = 7) -> list[Any]:
    cfg = SimConfig(customers=customers, days=days, seed=seed, churn_share=0.4)
    return [parse_line(orjson.dumps(e)) for e in generate(cfg)]


def _run(events: list[Any], **kw: Any) -> list[dict[str, Any]]:
    e = engine(**kw)
    out: list[dict[str, Any]] = []
    for ev in events:
        out += e.process(ev)
    return out + e.finish()


def test_due_index_gives_the_same_alerts_as_scanning_everyone() -> None:
    events = _events()
    indexed = _run(events)
    scanned = _run(events, scan_all=True)
    assert indexed == scanned
    assert len(indexed) > 10


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.sampled_from([3600.0, 6 * 3600.0, DAY]))
def test_due_index_equals_scan_for_any_tick(seed: int, tick: float) -> None:
    events = _events(customers=12, days=40, seed=seed)
    assert _run(events, tick_seconds=tick) == _run(events, tick_seconds=tick, scan_all=True)


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.sampled_from([3600.0, DAY]))
def test_due_index_equals_scan_with_events_out_of_order(seed: int, tick: float) -> None:
    """Late events (within the allowed lateness) are evaluated at their own time, before some of
    the customer's events: those enter the windows later, and the index must come back to them."""
    events = _events(customers=12, days=40, seed=seed)
    rng = random.Random(seed)
    shuffled = sorted(events, key=lambda e: e.ts + rng.uniform(0, DAY))
    assert _run(shuffled, tick_seconds=tick) == _run(shuffled, tick_seconds=tick, scan_all=True)


def test_a_late_failure_leaves_the_customer_due_when_the_later_one_counts() -> None:
    """Two failed charges arrive out of order: the one at 22:13, then (late) the one at 17:13. The
    late one is evaluated at 17:13, where only it is in the 30 days; at the next tick both are, and
    payment_failures fires there, as when every customer is evaluated at every tick."""

    def failed(ts: float) -> Any:
        return payment("c", ts, kind="charge", amount=10.0, currency="USD", status="failed")

    events = [login("c", T0), failed(T0 + 8 * 3600), failed(T0 + 3 * 3600), login("other", T0 + 10 * 3600)]
    alerts = _run(events, tick_seconds=3600.0)
    assert [(a["event_time"], a["rules"][0]["rule"]) for a in alerts] == [("2026-09-21T23:00:00Z", "payment_failures")]
    assert alerts == _run(events, tick_seconds=3600.0, scan_all=True)


def test_a_comparison_that_turns_just_after_a_tick_time_is_seen_at_the_next_tick() -> None:
    """``days_since_last_login <= 0.5`` holds for half a day after a login, its last instant
    included: after a login on the hour it turns just after a tick time, and the tick after that
    must evaluate the customer (the index once took that tick's own evaluation for the crossing)."""
    pack = pack_of(rule("just_now", "days_since_last_login", "<=", 0.5))
    t = (T0 // 3600 + 1) * 3600  # 2026-09-21T15:00:00Z
    events = [login("c", t), login("other", t + DAY)]
    runs = []
    for scan in (False, True):
        e = Engine(pack, EngineConfig(tick_seconds=3600.0, scan_all=scan))
        runs.append([a for ev in events for a in e.process(ev)] + e.finish())
    assert [(a["status"], a["event_time"]) for a in runs[0] if a["customer_id"] == "c"] == [
        ("firing", "2026-09-21T15:00:00Z"),
        ("resolved", "2026-09-22T04:00:00Z"),
    ]
    assert runs[0] == runs[1]


def _run_wall(events: list[Any], ticks: list[float], **kw: Any) -> list[dict[str, Any]]:
    """The wall clock's way: events applied, ticks at times of their own (not multiples of the interval)."""
    e = engine(tick_seconds=60.0, **kw)
    out: list[dict[str, Any]] = []
    pending = sorted(ticks)
    for ev in events:
        while pending and pending[0] < ev.ts:
            out += e.tick(pending.pop(0))
        out += e.apply(ev)
    for t in pending:
        out += e.tick(t)
    return out


@settings(max_examples=15)
@given(st.integers(0, 10_000), st.lists(st.floats(0.0, 1.0), min_size=5, max_size=60))
def test_due_index_equals_scan_for_wall_clock_ticks_at_any_time(seed: int, at: list[float]) -> None:
    """Ticks between the interval's multiples read buckets in part (the wall clock's minute buckets)."""
    events = _events(customers=12, days=40, seed=seed)
    first, last = events[0].ts, events[-1].ts + 10 * DAY
    ticks = [first + x * (last - first) for x in at]
    assert _run_wall(events, ticks) == _run_wall(events, ticks, scan_all=True)


@settings(max_examples=40)
@given(st.integers(0, 10_000))
def test_out_of_order_within_lateness_gives_the_same_state(seed: int) -> None:
    events = _events(customers=5, days=30, seed=seed)
    rng = random.Random(seed)
    shuffled = sorted(events, key=lambda e: e.ts + rng.uniform(0, 2.5 * DAY))  # at most 2.5 days out of order
    a, b = engine(), engine()
    for ev in events:
        a.apply(ev)
    for ev in shuffled:
        b.apply(ev)
    end = max(e.ts for e in events)
    a.commit()
    b.commit()
    assert set(a.customers()) == set(b.customers()) and a.customers()
    for cid in a.customers():
        sa = compute_signals(CustomerState.decode(a.store[cid]), end)
        sb = compute_signals(CustomerState.decode(b.store[cid]), end)
        assert sa == sb, cid


def test_view_and_summary() -> None:
    e = engine()
    e.process(payment("c", T0, kind="subscription", action="cancelled"))
    e.process(ticket("d", T0 + 1, "s", "survey", nps=10))
    view = e.view("c")
    assert view is not None and view["tier"] == "critical" and view["alerted_tier"] == "critical"
    assert e.view("nobody") is None
    summary = e.summary()
    assert summary["by_tier"]["critical"] == 1 and summary["customers"] == 2
    assert summary["nps"] == 100.0 and summary["lost_30d"] == 1


def test_rebuild_index_after_recovery_keeps_ticking() -> None:
    e = engine()
    for d in range(5):
        e.process(login("c", T0 + d * DAY))
    e.commit()
    recovered = Engine(PACK, EngineConfig(), store=dict(e.store))
    recovered.rebuild_index()
    recovered.clock = e.clock
    alerts = recovered.advance(T0 + 30 * DAY)
    assert alerts == e.advance(T0 + 30 * DAY)  # the recovered engine decides exactly as the original
    assert any(a["status"] == "firing" for a in alerts)


def test_an_engine_recovered_with_a_new_pack_evaluates_everyone_at_its_next_tick() -> None:
    """A restart with a new pack file (a rollout after the pack's ConfigMap changed): the states hold
    the due times of the old pack, which would leave a quiet customer waiting for its next event."""
    old = Engine(_pack("days_since_last_login", 30), EngineConfig())
    old.process(login("c", T0))
    old.process(login("d", T0 + 19 * DAY))
    old.commit()
    new = Engine(_pack("days_since_last_login", 14), EngineConfig(), store=dict(old.store))
    new.rebuild_index()
    alerts = new.process(login("d", T0 + 21 * DAY))  # the clock crosses a tick: everyone is evaluated
    assert [(a["customer_id"], a["status"]) for a in alerts] == [("c", "firing")]


def test_uncommitted_changes_are_seen_by_reads_and_ticks_then_committed_once() -> None:
    store: dict[str, bytes] = {}
    e = Engine(PACK, EngineConfig(), store=store)
    for d in range(5):
        e.process(login("c", T0 + d * DAY))
    assert "c" not in store  # not encoded yet
    view = e.view("c")
    assert view is not None and view["signals"]["logins_total"] == 5
    assert e.customers() == ["c"]
    assert e.commit() == 1 and e.commit() == 0
    assert CustomerState.decode(store["c"]).logins_total == 5
    # a tick reads the uncommitted state too: 30 silent days fire login_inactivity for "c"
    alerts = e.advance(T0 + 30 * DAY)
    assert any("login_inactivity" in [r["rule"] for r in a["rules"]] for a in alerts)


def test_a_failing_event_leaves_the_customer_at_its_last_committed_state(monkeypatch: pytest.MonkeyPatch) -> None:
    e = engine()
    e.process(login("c", T0))
    e.commit()
    e.process(login("c", T0 + 60))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(CustomerState, "add_login", broken)
    with pytest.raises(RuntimeError):
        e.process(login("c", T0 + 120))
    monkeypatch.undo()
    view = e.view("c")
    assert view is not None and view["signals"]["logins_total"] == 1


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4))
def test_an_engine_recovered_from_its_committed_store_decides_as_if_never_stopped(seed: int, cuts: list[float]) -> None:
    """What a worker does after a crash or a rebalance: a new engine over the store as last
    committed (clock included), the events after the commit applied again. Same alerts."""
    events = _events(customers=20, days=40, seed=seed)
    whole = engine()
    expected = [a for ev in events for a in whole.process(ev)]
    store: dict[str, bytes] = {}
    current = Engine(PACK, EngineConfig(), store=store)
    got: list[dict[str, Any]] = []
    start = 0
    for cut in sorted(cuts):
        stop = max(start, int(cut * len(events)))
        for ev in events[start:stop]:
            got += current.process(ev)
        current.commit()
        current = Engine(PACK, EngineConfig(), store=dict(store))  # the old one is gone
        store = current.store  # type: ignore[assignment]
        current.rebuild_index()
        start = stop
    for ev in events[start:]:
        got += current.process(ev)
    assert got == expected


def test_a_failed_first_event_leaves_no_trace_in_the_aggregates() -> None:
    e = engine()
    e.process(login("a", T0))
    before = e.summary()

    class Broken:
        def evaluate(self, signals: Any) -> Any:
            raise RuntimeError("boom")

        evaluate_values = evaluate  # what the engine calls (its signals as a list)

    pack, e.pack = e.pack, Broken()  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        e.process(login("new", T0 + 1))
    e.pack = pack
    assert e.summary() == before and "new" not in e.customers()
    e.process(login("new", T0 + 2))
    assert e.summary()["customers"] == 2


def test_partition_totals_add_up() -> None:
    a, b = engine(), engine()
    a.process(payment("c", T0, kind="subscription", action="cancelled"))
    b.process(ticket("d", T0 + 1, "s", "survey", nps=3))
    both = a.totals(T0 + 1) + b.totals(T0 + 1)
    assert both.customers == 2 and both.by_tier[3] == 1 and both.nps == -100.0 and both.lost_30d == 1


def _pack(signal: str, threshold: int) -> RulePack:
    return pack_of(rule("quiet", signal, ">=", threshold, weight=60))


def test_a_new_pack_is_applied_to_every_customer_at_the_next_tick() -> None:
    """A reloaded pack's rules reach the quiet customers, whose due times were the old pack's."""
    e = Engine(_pack("days_since_last_login", 30), EngineConfig())
    e.apply(login("c", T0))
    e.apply(login("d", T0 + 19 * DAY))
    assert e.tick(T0 + 20 * DAY) == []  # c: due next when the 30 days are up
    e.set_pack(_pack("days_since_last_login", 14))
    alerts = e.tick(T0 + 20 * DAY + 60)
    assert [(a["customer_id"], a["status"]) for a in alerts] == [("c", "firing")]
    before = e.evaluations
    assert e.tick(T0 + 20 * DAY + 120) == [] and e.evaluations == before  # once: then by due times again


def test_a_new_pack_reaches_quiet_customers_with_the_event_clock() -> None:
    e = Engine(_pack("days_since_last_login", 30), EngineConfig())
    e.process(login("c", T0))
    e.process(login("d", T0 + 19 * DAY))
    e.set_pack(_pack("days_since_last_login", 14))
    alerts = e.process(login("d", T0 + 21 * DAY))  # the clock crosses a tick: everyone is evaluated
    assert [(a["customer_id"], a["status"]) for a in alerts] == [("c", "firing")]
