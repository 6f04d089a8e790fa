"""Each signal of contract section 4 against hand-computed values, at the window edges."""

from __future__ import annotations

from itertools import pairwise

import pytest

from agents.pack_file import load_pack
from rules.engine import Engine, EngineConfig
from rules.signals import compute_signals
from rules.state import CustomerState
from tests.unit.helpers import DAY, T0, login, order, payment, ticket


def signals_after(events: list, t: float) -> dict:  # type: ignore[type-arg]
    engine = Engine(load_pack(), EngineConfig(allowed_lateness=400 * DAY))
    for e in events:
        engine.apply(e)
    engine.commit()
    state = CustomerState.decode(engine.store["c"])
    return compute_signals(state, t)


def test_login_windows_at_their_edges() -> None:
    # logins at T0 - 7d (exactly on the 7-day edge: outside it), T0 - 7d + 1s (inside), T0 - 35d (outside both)
    events = [
        login("c", T0 - 7 * DAY),
        login("c", T0 - 7 * DAY + 1),
        login("c", T0 - 35 * DAY),
        login("c", T0 - 20 * DAY),
    ]
    s = signals_after(events, T0)
    assert s["logins_7d"] == 1
    assert s["logins_prev_28d"] == 2  # T0-7d and T0-20d; T0-35d is outside (t-35d, t-7d]
    assert s["days_since_last_login"] == pytest.approx((7 * DAY - 1) / DAY)
    assert s["login_trend"] is None  # fewer than 4 logins in the previous 28 days
    assert s["logins_total"] == 4


def test_login_trend_and_failed_logins() -> None:
    events = [login("c", T0 - d * DAY) for d in (8, 10, 12, 14, 16, 18, 20, 22)]  # 8 in the previous 28 days
    events += [login("c", T0 - 1 * DAY), login("c", T0 - 2 * DAY, success=False)]
    s = signals_after(events, T0)
    assert s["logins_prev_28d"] == 8 and s["logins_7d"] == 1
    assert s["login_trend"] == pytest.approx(1 / (8 / 4))
    assert s["days_since_last_login"] == pytest.approx(1.0)


def test_orders_gaps_and_cancellations() -> None:
    events = [order("c", T0 - d * DAY, f"o{d}", amount=10.0 * d) for d in (100, 80, 60, 40, 20)]
    events.append(order("c", T0 - 10 * DAY, "late", amount=999.0))
    events.append(order("c", T0 - 10 * DAY + 60, "late", status="cancelled"))  # counts nowhere
    s = signals_after(events, T0)
    assert s["days_since_last_order"] == pytest.approx(20.0)
    assert s["orders_90d"] == 4 and s["order_value_90d"] == pytest.approx(800 + 600 + 400 + 200)
    assert s["median_order_gap_days"] == pytest.approx(20.0)
    assert s["order_gap_ratio"] == pytest.approx(1.0)
    assert s["orders_total"] == 5
    # cancellation before the order (out of order within the lateness): the order never counts
    s2 = signals_after([order("c", T0 - DAY, "x", status="refunded"), order("c", T0 - 2 * DAY, "x")], T0)
    assert s2["orders_total"] == 0 and s2["days_since_last_order"] is None


def test_order_window_edge_and_median_needs_two_gaps() -> None:
    s = signals_after([order("c", T0 - 90 * DAY, "a"), order("c", T0 - 30 * DAY, "b")], T0)
    assert s["orders_90d"] == 1  # the order exactly 90 days ago is out
    assert s["median_order_gap_days"] is None and s["order_gap_ratio"] is None


def test_payment_signals() -> None:
    events = [
        payment("c", T0 - 40 * DAY, kind="charge", amount=5, status="failed"),
        payment("c", T0 - 35 * DAY, kind="renewal", amount=5, status="succeeded"),
        payment("c", T0 - 30 * DAY, kind="renewal", amount=5, status="failed"),  # exactly 30 days: outside 30d
        payment("c", T0 - 2 * DAY, kind="charge", amount=5, status="failed"),
        payment("c", T0 - 1 * DAY, kind="chargeback", amount=5, status="succeeded"),
        payment("c", T0 - 3 * DAY, kind="subscription", action="paused"),
        payment("c", T0 - 5 * DAY, kind="subscription", action="resumed"),  # older: the pause wins
    ]
    s = signals_after(events, T0)
    assert s["payment_failures_30d"] == 1
    assert s["consecutive_payment_failures"] == 2
    assert s["chargebacks_90d"] == 1
    assert s["subscription_status"] == "paused"


def test_ticket_signals() -> None:
    events = [
        ticket("c", T0 - 15 * DAY, "t0", "opened"),
        ticket("c", T0 - 10 * DAY, "t1", "opened", priority="urgent", sentiment=-0.8),
        ticket("c", T0 - 5 * DAY, "t2", "opened", priority="low", sentiment=-0.2),
        ticket("c", T0 - 4 * DAY, "t2", "resolved"),
        ticket("c", T0 - 3 * DAY, "t2", "reopened", priority="urgent"),  # open again, not new
        ticket("c", T0 - 2 * DAY, "t0", "resolved", sentiment=0.4),
        ticket("c", T0 - 1 * DAY, "s", "survey", nps=4, csat=2),
        ticket("c", T0 - 40 * DAY, "s0", "survey", nps=10, csat=5, sentiment=1.0),  # older answers lose
    ]
    s = signals_after(events, T0)
    assert s["tickets_opened_14d"] == 2
    assert s["open_tickets"] == 2
    assert s["open_urgent_ticket_hours"] == pytest.approx(10 * 24)
    assert s["avg_sentiment_30d"] == pytest.approx((-0.8 - 0.2 + 0.4) / 3)
    assert s["sentiment_count_30d"] == 3
    assert s["last_nps"] == 4 and s["last_csat"] == 2


def test_customer_value() -> None:
    events = [order("c", T0 - d * DAY, f"o{d}", amount=100.0) for d in (365, 300, 200, 100)]
    s = signals_after(events, T0)
    # average 100 x (4 orders / 1 year of tenure) x 3 years
    assert s["customer_value"] == pytest.approx(1200.0)
    assert signals_after([login("c", T0)], T0)["customer_value"] is None


def _apply_in_order(events: list) -> Engine:  # type: ignore[type-arg]
    engine = Engine(load_pack(), EngineConfig())  # the default lateness: state trimmed as in production
    for e in events:
        engine.apply(e)
    return engine


def test_failures_without_any_success_are_all_consecutive_however_old() -> None:
    events = [
        payment("c", T0, kind="charge", amount=9, status="failed"),
        payment("c", T0 + 60 * DAY, kind="charge", amount=9, status="failed"),
    ]
    engine = _apply_in_order(events)
    view = engine.view("c", T0 + 60 * DAY)
    assert view is not None
    assert view["signals"]["consecutive_payment_failures"] == 2
    assert view["signals"]["payment_failures_30d"] == 1
    assert "payment_failures" in [r["rule"] for r in view["rules"]]


def test_a_cancelled_order_does_not_shorten_the_median_gap_window() -> None:
    # 15 orders: 7 gaps of 40 days, then 7 of 1 day; the newest but one is cancelled. The median
    # is over the last 12 gaps of the orders left (6 of 40 days, 5 of 1, 1 of 2): 21 days.
    gaps = [40.0] * 7 + [1.0] * 7
    times = [T0]
    for g in gaps:
        times.append(times[-1] + g * DAY)
    events = [order("c", t, f"o{i}", amount=10.0) for i, t in enumerate(times)]
    events.append(order("c", times[-1] + 1, f"o{len(times) - 2}", status="cancelled"))
    engine = _apply_in_order(events)
    view = engine.view("c", times[-1] + 1)
    assert view is not None
    placed = [t for i, t in enumerate(times) if i != len(times) - 2][-13:]
    expected = sorted(b - a for a, b in pairwise(placed))
    assert len(expected) == 12
    assert view["signals"]["median_order_gap_days"] == (expected[5] + expected[6]) / 2 / DAY == 21.0
