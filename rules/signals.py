"""Every signal of contract section 4, computed from a customer's state at a time ``t``.

One function per signal, named after it (search for ``def logins_7d`` to find one). A windowed
signal reads its window by its own name from ``rules.windows.WINDOWS`` (the one declaration that
also bounds the state and gives the due-time index its exits). ``None`` means not enough history.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from statistics import median
from typing import Any

from rules.frame import FRAME_NAMES, frame
from rules.model import (
    EXPECTED_LOGIN_DAYS,
    EXPECTED_ORDER_DAYS,
    BuyingModel,
    History,
    expected_orders,
    p_alive,
    p_order_within,
    state_history,
    visit_history,
)
from rules.records import Order, open_urgent_since
from rules.state import DAY, ORDER_GAPS, CustomerState
from rules.windows import WINDOWS

HOUR = 3600


@dataclass(frozen=True, slots=True)
class SignalConfig:
    expected_lifespan_years: float = 3.0
    model: BuyingModel | None = None  # the fitted buying model of the model signals (None: they are null)


def _count_in(times: Sequence[int], lo: float, hi: float) -> int:
    """Number of times in ``(lo, hi]`` of a sorted list."""
    return bisect.bisect_right(times, hi) - bisect.bisect_right(times, lo)


def _days(seconds: float) -> float:
    return seconds / DAY


def days_since_last_login(s: CustomerState, t: float) -> float | None:
    return None if s.last_login is None else _days(t - s.last_login)


def _counter(signal: str, history: str) -> Callable[[CustomerState, float], int]:
    """The number of events of a time-list history within the signal's declared window."""
    window = WINDOWS[signal]
    assert window.history == history, (signal, history)
    lo_back, hi_back = window.days * DAY, window.until_days * DAY

    def count(s: CustomerState, t: float) -> int:
        times = getattr(s, history)
        return bisect.bisect_right(times, t - hi_back) - bisect.bisect_right(times, t - lo_back)

    count.__name__ = signal
    return count


logins_7d = _counter("logins_7d", "logins")
logins_prev_28d = _counter("logins_prev_28d", "logins")


def login_trend(s: CustomerState, t: float) -> float | None:
    prev = logins_prev_28d(s, t)
    return None if prev < 4 else logins_7d(s, t) / (prev / 4)


def _placed_until(s: CustomerState, t: float) -> list[Order]:
    orders = s.orders
    if not orders or orders[-1].time <= t:  # the usual case: no order after t
        return orders
    return orders[: bisect.bisect_right(orders, (t, math.inf))]


def days_since_last_order(s: CustomerState, t: float) -> float | None:
    placed = _placed_until(s, t)
    return _days(t - placed[-1].time) if placed else None


def _orders_in(s: CustomerState, t: float, signal: str) -> list[Order]:
    lo, hi = WINDOWS[signal].bounds(t)
    return [o for o in _placed_until(s, t) if lo < o.time <= hi]


def orders_90d(s: CustomerState, t: float) -> int:
    return len(_orders_in(s, t, "orders_90d"))


def order_value_90d(s: CustomerState, t: float) -> float:
    return round(sum(o.amount for o in _orders_in(s, t, "order_value_90d")), 2)


def median_order_gap_days(s: CustomerState, t: float) -> float | None:
    times = [o.time for o in _placed_until(s, t)[-(ORDER_GAPS + 1) :]]
    if len(times) < 3:
        return None
    return _days(median(b - a for a, b in pairwise(times)))


def order_gap_ratio(s: CustomerState, t: float) -> float | None:
    since = days_since_last_order(s, t)
    gap = median_order_gap_days(s, t)
    if since is None or not gap:
        return None
    return since / gap


payment_failures_30d = _counter("payment_failures_30d", "failures")


def consecutive_payment_failures(s: CustomerState, t: float) -> int:
    since = s.last_success if s.last_success is not None and s.last_success <= t else float("-inf")
    return _count_in(s.failures, since, t)


chargebacks_90d = _counter("chargebacks_90d", "chargebacks")


def subscription_status(s: CustomerState, t: float) -> str:
    return "none" if s.subscription is None else str(s.subscription.value)


tickets_opened_14d = _counter("tickets_opened_14d", "opened")


def open_tickets(s: CustomerState, t: float) -> int:
    return sum(1 for ticket in s.tickets.values() if ticket.open)


def open_urgent_ticket_hours(s: CustomerState, t: float) -> float | None:
    since = open_urgent_since(s.tickets)
    return None if since is None else (t - since) / HOUR


def _sentiments_in(s: CustomerState, t: float, signal: str) -> list[float]:
    lo, hi = WINDOWS[signal].bounds(t)
    return [x.value for x in s.sentiments if lo < x.time <= hi]


def avg_sentiment_30d(s: CustomerState, t: float) -> float | None:
    values = _sentiments_in(s, t, "avg_sentiment_30d")
    return sum(values) / len(values) if values else None


def sentiment_count_30d(s: CustomerState, t: float) -> int:
    return len(_sentiments_in(s, t, "sentiment_count_30d"))


def last_csat(s: CustomerState, t: float) -> int | None:
    return None if s.last_csat is None else int(s.last_csat.value)


def last_nps(s: CustomerState, t: float) -> int | None:
    return None if s.last_nps is None else int(s.last_nps.value)


def logins_total(s: CustomerState, t: float) -> int:
    return s.logins_total


def orders_total(s: CustomerState, t: float) -> int:
    return s.orders_total


def customer_value(s: CustomerState, t: float, lifespan_years: float) -> float | None:
    """Average order value × orders per year × expected lifespan in years.

    Orders per year = placed orders ÷ the customer's ordering tenure (first placed order to
    ``t``, at least 90 days so that a new customer's first order is not extrapolated wildly).
    """
    if not s.orders_total or s.first_order is None:
        return None
    average = s.value_total / s.orders_total
    tenure_years = max(t - s.first_order, 90 * DAY) / (365 * DAY)
    return round(average * (s.orders_total / tenure_years) * lifespan_years, 2)


SIGNALS: dict[str, Callable[[CustomerState, float], Any]] = {
    "days_since_last_login": days_since_last_login,
    "logins_7d": logins_7d,
    "logins_prev_28d": logins_prev_28d,
    "login_trend": login_trend,
    "days_since_last_order": days_since_last_order,
    "orders_90d": orders_90d,
    "order_value_90d": order_value_90d,
    "median_order_gap_days": median_order_gap_days,
    "order_gap_ratio": order_gap_ratio,
    "payment_failures_30d": payment_failures_30d,
    "consecutive_payment_failures": consecutive_payment_failures,
    "chargebacks_90d": chargebacks_90d,
    "subscription_status": subscription_status,
    "tickets_opened_14d": tickets_opened_14d,
    "open_tickets": open_tickets,
    "open_urgent_ticket_hours": open_urgent_ticket_hours,
    "avg_sentiment_30d": avg_sentiment_30d,
    "sentiment_count_30d": sentiment_count_30d,
    "last_csat": last_csat,
    "last_nps": last_nps,
    "logins_total": logins_total,
    "orders_total": orders_total,
}
ModelSignalFn = Callable[[BuyingModel, tuple[int, float, float]], float]


def _model_signals() -> dict[str, ModelSignalFn]:
    out: dict[str, ModelSignalFn] = {"p_alive": p_alive}
    for n in EXPECTED_ORDER_DAYS:
        out[f"expected_orders_{n}d"] = partial(_with_days, expected_orders, float(n))
        out[f"p_order_{n}d"] = partial(_with_days, p_order_within, float(n))
    out["p_alive_visits"] = p_alive
    for n in EXPECTED_LOGIN_DAYS:
        out[f"expected_logins_{n}d"] = partial(_with_days, expected_orders, float(n))
    return out


def _with_days(fn: Callable[[BuyingModel, History, float], float], days: float, m: BuyingModel, h: History) -> float:
    return fn(m, h, days)


# signals of the buying model (rules/model.py): null without a model or without a placed order
# (the visit signals: without the model's visit part or without a successful login)
MODEL_SIGNALS: dict[str, ModelSignalFn] = _model_signals()
VISIT_SIGNALS: frozenset[str] = frozenset(n for n in MODEL_SIGNALS if "visits" in n or "logins" in n)
SIGNAL_NAMES: frozenset[str] = frozenset([*SIGNALS, *MODEL_SIGNALS, "customer_value"])
SIGNAL_TYPES: dict[str, str] = {name: "number" for name in SIGNAL_NAMES} | {"subscription_status": "string"}
# every signal's position in the list the engine evaluates (RulePack.evaluate_values): the frame's, then the model's
SLOTS: tuple[str, ...] = (*FRAME_NAMES, *MODEL_SIGNALS)
SLOT: dict[str, int] = {name: i for i, name in enumerate(SLOTS)}
MODEL_SLOTS: tuple[str, ...] = SLOTS[len(FRAME_NAMES) :]
NO_MODEL: tuple[None, ...] = (None,) * len(MODEL_SLOTS)  # the model's part without a model
assert (*SIGNALS, "customer_value") == FRAME_NAMES and set(SLOTS) == SIGNAL_NAMES


SignalFn = Callable[[CustomerState, float], Any]


def model_signals(
    s: CustomerState, t: float, model: BuyingModel | None, names: Iterable[str] = MODEL_SIGNALS
) -> dict[str, float | None]:
    """The named model signals: order ones null without a model or a placed order, visit ones
    without the model's visit part or a successful login."""
    if model is None:
        return dict.fromkeys(names)
    histories: dict[bool, History | None] = {}
    out: dict[str, float | None] = {}
    for name in names:
        visits = name in VISIT_SIGNALS
        m = model.visits if visits else model
        if visits not in histories:
            histories[visits] = (visit_history(s, t) if visits else state_history(s, t)) if m is not None else None
        h = histories[visits]
        out[name] = None if m is None or h is None else round(MODEL_SIGNALS[name](m, h), 6)
    return out


def model_part(s: CustomerState, t: float, model: BuyingModel | None, names: Sequence[str]) -> Sequence[float | None]:
    """The model's part of the engine's signal list (``MODEL_SLOTS`` order): the named model
    signals, the others null (all of them without a model)."""
    if model is None or not names:
        return NO_MODEL
    out = model_signals(s, t, model, names)
    return [out.get(name) for name in MODEL_SLOTS]


def needed_model_signals(names: Iterable[str]) -> tuple[str, ...]:
    """The model signals among ``names`` (what a pack reads), in a stable order."""
    return tuple(sorted(set(names) & MODEL_SIGNALS.keys()))


def compute_signals(s: CustomerState, t: float, config: SignalConfig = SignalConfig()) -> dict[str, Any]:
    """All signals of one customer at time ``t`` (through ``rules.frame``, equal to the functions above)."""
    out = frame(s, t, config.expected_lifespan_years)[0]
    out.update(model_signals(s, t, config.model))
    return out
