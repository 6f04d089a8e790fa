"""Logins leaving a window, for a customer no rule fires for (``rules.due._quiet_logins_due``): a
due time only when the login trend can reach a threshold of the pack, or when a rule reading the
login windows in its guard has a comparison that holds. Ticks then skip the evaluations that could
change nothing; the alerts stay those of evaluating everyone at every tick."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.due import _quiet_logins, _quiet_logins_due
from rules.engine import Engine, EngineConfig
from rules.frame import frame_values
from rules.memo import NEVER
from rules.pack import RulePack
from rules.signals import SLOT, login_trend
from rules.state import CustomerState
from streams.parse import parse_line
from streams.simulate import SimConfig, generate
from tests.unit.helpers import T0, pack_of, rule

DAY = 86400  # (int: the state's times are int seconds)

TREND = rule("decline", "login_trend", "<=", 0.5)
GATED = rule("lapse", "days_since_last_order", ">=", 30, when="logins_7d == 0")


def test_the_default_pack_needs_the_trend_and_the_lapse_comparisons_only() -> None:
    from agents.pack_file import load_pack

    trend, gates = _quiet_logins(load_pack()) or ((), ())
    assert trend == 0.5
    # the lapse rules' comparison (guard: logins_7d == 0), once, and the buying model's (null without one)
    assert [(c.slot, c.op, c.number) for c in gates] == [
        (SLOT["days_since_last_order"], 0, 30.0),
        (SLOT["expected_orders_90d"], 2, 1.0),
    ]


@pytest.mark.parametrize(
    "rules",
    [
        rule("r", "logins_7d", "<=", 1),  # a login count compared: every exit can matter
        rule("r", "login_trend", ">=", 2),  # a rising trend: a login leaving the 28 days raises it
        rule("r", "login_trend", "<=", 0.5, when="logins_total >= 3"),  # may hold now, held back by the guard
        rule("r", "customer_value", ">=", 100, when="logins_7d == 0"),  # changes with time at no due time
        '  - id: r\n    weight: 30\n    signal: login_trend\n    threshold: 0.5\n    expr: "login_trend <= 0.5"\n'
        "    reason: r\n",
    ],
)
def test_packs_it_cannot_reason_about_keep_every_login_exit(rules: str) -> None:
    assert _quiet_logins(pack_of(TREND + rules)) is None


def test_a_pack_without_the_login_windows_needs_no_login_exit() -> None:
    assert _quiet_logins(pack_of(rule("r", "orders_total", ">=", 3))) == (-1.0, ())


def _state(times: list[int], t: int) -> CustomerState:
    s = CustomerState()
    for ts in sorted(times):
        s.add_login(ts, t)
    frame_values(s, t, 3.0)  # the frame's cursors at t, as the engine's evaluation leaves them
    return s


@settings(max_examples=300)
@given(
    st.lists(st.integers(0, 60 * DAY), min_size=1, max_size=80),
    st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.5]),
    st.integers(0, 3 * DAY),
)
def test_the_trend_cannot_reach_the_threshold_before_the_due_time(offsets: list[int], x: float, after: int) -> None:
    base = int(T0)
    t = base + max(offsets) + after
    s = _state([base + o for o in offsets], t)
    now = login_trend(s, t)
    if now is not None and now <= x:
        return  # the rule fires now: not a quiet customer
    first = min(e for ts in s.logins for e in (ts + 7 * DAY, ts + 35 * DAY) if e > t)
    due = _quiet_logins_due(s, t, x, first)
    assert due >= first
    # every time a login leaves a window before the due time: the trend is still above x
    exits = sorted({e for ts in s.logins for e in (ts + 7 * DAY, ts + 35 * DAY) if t < e < min(due, NEVER)})
    for e in exits:
        value = login_trend(s, e)
        assert value is None or not value <= x, (e - t, value, due - t)


def _events(customers: int, days: int, seed: int) -> list[Any]:
    cfg = SimConfig(customers=customers, days=days, seed=seed, churn_share=0.5)
    return [parse_line(orjson.dumps(e)) for e in generate(cfg)]


def _run(pack: RulePack, events: list[Any], **kw: Any) -> tuple[list[dict[str, Any]], dict[str, int], int]:
    e = Engine(pack, EngineConfig(**kw))
    out: list[dict[str, Any]] = []
    for ev in events:
        out += e.process(ev)
    out += e.finish()
    tiers = {cid: CustomerState.decode(e.store[cid]).tier for cid in e.customers()}
    return out, tiers, e.evaluations


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 10_000),
    st.sampled_from(["<=", "<"]),
    st.sampled_from([0.25, 0.5, 0.75, 1.0]),
    st.sampled_from([3600.0, DAY]),
    st.booleans(),
)
def test_alerts_and_tiers_are_those_of_evaluating_everyone(
    seed: int, op: str, x: float, tick: float, gate: bool
) -> None:
    rules = rule("decline", "login_trend", op, x, weight=30)
    rules += GATED if gate else rule("fails", "payment_failures_30d", ">=", 1)
    rules += rule("busy", "tickets_opened_14d", ">=", 1, when="logins_7d <= 1", weight=25)
    pack = pack_of(rules)
    events = _events(14, 45, seed)
    indexed, tiers, _ = _run(pack, events, tick_seconds=tick)
    scanned, scanned_tiers, _ = _run(pack, events, tick_seconds=tick, scan_all=True)
    assert indexed == scanned
    assert tiers == scanned_tiers


def test_ticks_skip_the_customers_whose_logins_cannot_change_a_result() -> None:
    pack = pack_of(TREND + GATED)
    events = _events(40, 60, 3)
    _, _, sharp = _run(pack, events)
    everyone = pack_of(TREND + GATED + rule("r", "logins_7d", "<=", -1))  # a login count read: every exit counts
    _, _, every_exit = _run(everyone, events)
    assert sharp < every_exit


def test_a_daily_login_is_due_when_the_trend_can_first_reach_the_threshold() -> None:
    base = int(T0)
    t = base + 39 * DAY
    s = _state([base + d * DAY for d in range(40)], t)  # 7 logins in the week, 28 in the 28 days before
    due = _quiet_logins_due(s, t, 0.5, t + DAY)
    assert due == t + 4 * DAY  # 3 in the week and 28 before it: 3 / 7 = 0.43 <= 0.5; at 3 days, 4 / 7.25 > 0.5
    before, at = login_trend(s, due - 1), login_trend(s, due)
    assert before is not None and at is not None and before > 0.5 >= at
