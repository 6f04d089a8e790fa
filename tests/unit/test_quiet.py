"""A quiet customer's login is applied without an evaluation (``rules.quiet``): for a pack whose
login comparisons all fire on the far side of where a login moves them. The alerts, the tiers and
what the worker's view is told at every event stay those of evaluating every event (and everyone
at every tick), whatever the events: failed, late, repeated, out of order."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.pack_file import load_pack
from rules.engine import Engine, EngineConfig
from rules.pack import RulePack
from rules.quiet import logins_keep_quiet
from rules.state import CustomerState
from streams.events import Event
from streams.parse import parse_line
from streams.simulate import SimConfig, generate
from tests.unit.helpers import DAY, T0, login, pack_of, rule

EXPR = '  - id: r\n    weight: 30\n    signal: logins_7d\n    threshold: 1\n    expr: "logins_7d <= 1"\n    reason: r\n'


def test_the_default_pack_keeps_a_quiet_customer_quiet_through_a_login() -> None:
    assert logins_keep_quiet(load_pack(), with_model=False)
    assert not logins_keep_quiet(load_pack(), with_model=True)  # the model's visit signals read the logins


@pytest.mark.parametrize(
    "rules",
    [
        rule("r", "days_since_last_login", "<=", 3),  # a login brings it down to 0: it may start to hold
        rule("r", "logins_7d", ">=", 2),
        rule("r", "login_trend", ">", 1.5),
        rule("r", "logins_total", "==", 5),
        rule("r", "logins_7d", "!=", 0, when="orders_total >= 1"),
        EXPR,
    ],
)
def test_a_login_comparison_that_a_login_can_start_keeps_every_evaluation(rules: str) -> None:
    assert not logins_keep_quiet(pack_of(rule("ok", "days_since_last_login", ">=", 14) + rules), with_model=False)


@pytest.mark.parametrize(
    "rules",
    [
        rule("r", "logins_prev_28d", ">=", 3),  # a login enters the 28 days a week later: a due time
        rule("r", "orders_total", ">=", 3, when="logins_7d == 0"),  # a guard is read once a comparison holds
        rule("r", "logins_total", "<", 3) + rule("s", "login_trend", "<=", 0.5) + rule("u", "logins_7d", "<=", 1),
    ],
)
def test_comparisons_a_login_cannot_start_let_logins_through(rules: str) -> None:
    assert logins_keep_quiet(pack_of(rules), with_model=False)


def _run(pack: RulePack, events: list[Event], **kw: Any) -> tuple[Engine, list[Any], list[Any], dict[str, int]]:
    """The engine, its alerts, what its observer was last told of the customer after each event, and the tiers."""
    e = Engine(pack, EngineConfig(**kw))
    told: dict[str, tuple[Any, ...]] = {}
    e.observer = lambda cid, ev, rar, t: told.__setitem__(cid, (ev.tier, ev.score, [h.rule for h in ev.hits], rar))
    alerts: list[Any] = []
    after: list[Any] = []
    for ev in events:
        alerts += e.process(ev)
        after.append(told.get(ev.customer_id))
    alerts += e.finish()
    tiers = {cid: CustomerState.decode(e.store[cid]).tier for cid in e.customers()}
    return e, alerts, after, tiers


def _hostile(events: list[Event], seed: int) -> list[Event]:
    """Some logins failed, some events repeated, neighbours swapped (late by up to a few hours)."""
    r = random.Random(seed)
    out: list[Event] = []
    for ev in events:
        if ev.type == "login" and r.random() < 0.1:
            ev = login(ev.customer_id, ev.ts, ev.event_id, success=False)
        out.append(ev)
        if r.random() < 0.03:
            out.append(ev)
    for i in range(len(out) - 1):
        if r.random() < 0.05 and out[i + 1].ts - out[i].ts < 6 * 3600:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


PACKS = {
    "default": load_pack(),
    # login comparisons that fire often, on the far side of a login: short lapses, low counts, a falling trend
    "login-heavy": pack_of(
        rule("lapse", "days_since_last_login", ">=", 2, weight=30)
        + rule("few", "logins_7d", "<=", 1, weight=30)
        + rule("decline", "login_trend", "<", 0.9, weight=30)
        + rule("new", "logins_total", "<=", 3, when="orders_total >= 1", weight=10)
        + rule("busy", "tickets_opened_14d", ">=", 1, when="logins_7d <= 2", weight=25)
        + rule("quiet_month", "logins_prev_28d", "<=", 2, weight=20)
    ),
    # and one where a login can start a rule: every event is evaluated
    "login-started": pack_of(
        rule("lapse", "days_since_last_login", ">=", 2, weight=30)
        + rule("just_now", "days_since_last_login", "<=", 0.5, weight=30)
        + rule("burst", "logins_7d", ">=", 4, weight=30)
    ),
}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(sorted(PACKS)), st.sampled_from([3600.0, DAY]), st.booleans())
def test_logins_let_through_change_no_alert_tier_or_view(seed: int, name: str, tick: float, hostile: bool) -> None:
    cfg = SimConfig(customers=12, days=50, seed=seed, churn_share=0.5)
    events = [parse_line(orjson.dumps(e)) for e in generate(cfg)]
    if hostile:
        events = _hostile(events, seed)
    pack = PACKS[name]
    _, alerts, told, tiers = _run(pack, events, tick_seconds=tick)
    everyone, all_alerts, all_told, all_tiers = _run(pack, events, tick_seconds=tick, scan_all=True)
    assert everyone.quiet_logins == 0
    assert alerts == all_alerts
    assert tiers == all_tiers
    assert told == all_told  # the worker's view is told the same result at every event


def test_most_logins_of_the_simulated_mix_skip_the_evaluation() -> None:
    events = [parse_line(orjson.dumps(e)) for e in generate(SimConfig(customers=50, days=60, seed=7))]
    e, *_ = _run(load_pack(), events)
    logins = sum(ev.type == "login" for ev in events)
    assert e.quiet_logins > logins / 2
    assert e.evaluations < len(events) - e.quiet_logins + len(e.customers()) * 60  # events evaluated, plus ticks


def test_a_login_that_first_counts_a_week_later_is_evaluated_then() -> None:
    """Three logins, then none for 18 days: the trend is null (3 logins in the 28 days before the week,
    fewer than 4). A login then changes nothing at once, so it is applied without an evaluation; a
    week later it counts among the 28 days, the trend becomes 0 and the rule fires: the login's week
    exit is a due time."""
    pack = pack_of(rule("decline", "login_trend", "<=", 0.5))
    events = [login("c", T0 + d * DAY) for d in (0, 1, 2, 20)] + [login("other", T0 + 30 * DAY)]
    e, alerts, _, _ = _run(pack, events)
    assert e.quiet_logins == 3  # days 1, 2 and 20
    # T0 + 27 days is 2026-10-18T13:33:20Z: the first daily tick after it
    assert [a["event_time"] for a in alerts] == ["2026-10-19T00:00:00Z"]
    _, scanned, _, _ = _run(pack, events, scan_all=True)
    assert alerts == scanned


def test_a_reloaded_pack_is_not_trusted_with_the_old_packs_quiet() -> None:
    """After a reload every customer is evaluated again before a login may skip an evaluation: the
    quiet an evaluation found holds for its own pack only."""
    e = Engine(pack_of(rule("lapse", "days_since_last_login", ">=", 14)))
    e.process(login("c", T0))
    e.set_pack(pack_of(rule("few", "logins_7d", "<=", 2)))  # fires at a login count of 2 or fewer
    alerts = e.process(login("c", T0 + 3600))
    assert e.quiet_logins == 0 and [a["tier"] for a in alerts] == ["watch"]
