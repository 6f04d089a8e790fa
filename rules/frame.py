"""The signals of one customer at ``t`` in one pass: the engine's hot path.

``rules.signals`` defines each signal on its own (one function per signal, the reference the
tests hold this to); :func:`frame` computes all of them together, reading each history once and
sharing what several signals need (the login counts of ``login_trend``, the last order and the
median gap of ``order_gap_ratio``), with the windows of ``rules.windows``. It also returns those
shared values (:class:`Derived`) so that the due-time index does not compute them again.
Values are identical to the per-signal functions (same operations in the same order).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Final, NamedTuple

from rules.state import DAY, ORDER_GAPS, CustomerState
from rules.windows import CHARGEBACKS, EDGES, FAILURES, LOGINS, OPENED, ORDERS, SENTIMENTS, WINDOWS

HOUR: Final = 3600


def _width(signal: str, history: str, until_days: int = 0) -> int:
    """The width of the signal's window in seconds, checking the history and the upper edge
    (``until_days``) that the fused code below assumes."""
    w = WINDOWS[signal]
    assert (w.history, w.until_days) == (history, until_days), (signal, w)
    return w.days * DAY


# Final: the compiled core (mypyc) reads them as constants, not from the module's dict
_L7_LO: Final = _width("logins_7d", LOGINS)
_LP_LO: Final = _width("logins_prev_28d", LOGINS, until_days=7)
_O90: Final = _width("orders_90d", ORDERS)
_F30: Final = _width("payment_failures_30d", FAILURES)
_C90: Final = _width("chargebacks_90d", CHARGEBACKS)
_T14: Final = _width("tickets_opened_14d", OPENED)
_S30: Final = _width("avg_sentiment_30d", SENTIMENTS)
assert _width("order_value_90d", ORDERS) == _O90 and _width("sentiment_count_30d", SENTIMENTS) == _S30
assert _L7_LO == 7 * DAY  # logins_prev_28d ends where logins_7d begins
# the window exits found on the way (Derived.exit) are every edge of rules.windows
_EXITS = {LOGINS: (_L7_LO, _LP_LO), ORDERS: (_O90,), FAILURES: (_F30,), CHARGEBACKS: (_C90,), OPENED: (_T14,)}
assert {**_EXITS, SENTIMENTS: (_S30,)} == EDGES, EDGES


class Derived(NamedTuple):
    """What the due-time index needs that the signals already computed."""

    last_order: int | None  # the last placed order at or before t
    gap: float | None  # median_order_gap_days
    exit: int | None = None  # the earliest time after t at which a held event leaves a window
    urgent: int | None = None  # when the oldest open urgent ticket was (re)opened


def _exit(times: Sequence[int], i: int, width: int, out: list[int]) -> None:
    """``times[i]`` (the first time in a window ``width`` wide) leaves it at ``times[i] + width``."""
    if i < len(times):
        out.append(times[i] + width)


def _median(values: list[int]) -> float:
    data = sorted(values)  # as statistics.median
    n = len(data)
    i = n // 2
    return data[i] if n % 2 == 1 else (data[i - 1] + data[i]) / 2


def _orders(
    s: CustomerState, t: float, exits: list[int], value: bool
) -> tuple[int | None, float | None, int, int | float | None, float | None]:
    """(last order time, days since it, orders_90d, order_value_90d, median gap in days) at ``t``;
    order_value_90d is None unless ``value`` (its rounding costs as much as the rest)."""
    orders = s.orders
    if not orders:
        return None, None, 0, 0, None  # round(sum([]), 2) is the int 0, as the per-signal function gives
    i = bisect_right(orders, (t - _O90, math.inf))  # every order before i is at or before t
    if i < len(orders):
        exits.append(orders[i].time + _O90)
    if orders[-1].time > t:
        orders = orders[: bisect_right(orders, (t, math.inf))]
        if not orders:
            return None, None, 0, 0, None
    value_90d: int | float | None = None
    if value:
        amounts = [o.amount for o in orders[i:]]
        value_90d = round(sum(amounts), 2) if amounts else 0  # the int 0 when empty, as above
    gap: float | None = None
    if len(orders) >= 3:
        times = [o.time for o in orders[-(ORDER_GAPS + 1) :]]
        gap = _median([b - a for a, b in pairwise(times)]) / DAY
    return orders[-1].time, (t - orders[-1].time) / DAY, len(orders) - i, value_90d, gap


def _tickets(s: CustomerState) -> tuple[int, int | None]:
    """(open tickets, when the oldest open urgent one was (re)opened)."""
    open_count = 0
    urgent: int | None = None
    for k in s.tickets.values():
        if k.open:
            open_count += 1
            if k.priority == "urgent" and k.opened is not None and (urgent is None or k.opened < urgent):
                urgent = k.opened
    return open_count, urgent


def frame(
    s: CustomerState, t: float, lifespan_years: float, order_value: bool = True
) -> tuple[dict[str, Any], Derived]:
    """Every signal of ``rules.signals.SIGNALS`` (in its order) and ``customer_value``;
    ``order_value=False``: ``order_value_90d`` is left None (for a pack that does not read it)."""
    exits: list[int] = []  # when each window's oldest event leaves it (rules.due takes the earliest)
    logins = s.logins
    logins_7d = prev = 0
    if logins:
        week = bisect_right(logins, t - _L7_LO)
        month = bisect_right(logins, t - _LP_LO)
        logins_7d, prev = bisect_right(logins, t) - week, week - month
        _exit(logins, week, _L7_LO, exits)
        _exit(logins, month, _LP_LO, exits)
    last_order, since_order, orders_90d, value_90d, gap = _orders(s, t, exits, order_value)
    failures = s.failures
    failures_30d = consecutive = 0
    if failures:
        f_now = bisect_right(failures, t)
        success = s.last_success if s.last_success is not None and s.last_success <= t else -math.inf
        f_month = bisect_right(failures, t - _F30)
        failures_30d = f_now - f_month
        consecutive = f_now - bisect_right(failures, success)
        _exit(failures, f_month, _F30, exits)
    chargebacks_90d = _count(s.chargebacks, t, _C90, exits) if s.chargebacks else 0
    tickets_opened_14d = _count(s.opened, t, _T14, exits) if s.opened else 0
    open_count, urgent = _tickets(s) if s.tickets else (0, None)  # most customers: no ticket, no sentiment
    sentiments = s.sentiments
    values: list[float] = []
    if sentiments:
        j = bisect_right(sentiments, (t - _S30, math.inf))
        values = [x.value for x in sentiments[j:] if x.time <= t]
        if j < len(sentiments):
            exits.append(sentiments[j].time + _S30)
    sub = s.subscription
    out = {
        "days_since_last_login": None if s.last_login is None else (t - s.last_login) / DAY,
        "logins_7d": logins_7d,
        "logins_prev_28d": prev,
        "login_trend": None if prev < 4 else logins_7d / (prev / 4),
        "days_since_last_order": since_order,
        "orders_90d": orders_90d,
        "order_value_90d": value_90d,
        "median_order_gap_days": gap,
        "order_gap_ratio": None if since_order is None or not gap else since_order / gap,
        "payment_failures_30d": failures_30d,
        "consecutive_payment_failures": consecutive,
        "chargebacks_90d": chargebacks_90d,
        "subscription_status": "none" if sub is None else str(sub.value),
        "tickets_opened_14d": tickets_opened_14d,
        "open_tickets": open_count,
        "open_urgent_ticket_hours": None if urgent is None else (t - urgent) / HOUR,
        "avg_sentiment_30d": sum(values) / len(values) if values else None,
        "sentiment_count_30d": len(values),
        "last_csat": None if s.last_csat is None else int(s.last_csat.value),
        "last_nps": None if s.last_nps is None else int(s.last_nps.value),
        "logins_total": s.logins_total,
        "orders_total": s.orders_total,
        "customer_value": _customer_value(s, t, lifespan_years),
    }
    return out, Derived(last_order, gap, min(exits) if exits else None, urgent)


def _count(times: Sequence[int], t: float, width: int, exits: list[int]) -> int:
    """Events in ``(t - width, t]`` of a non-empty list; the first of them leaves the window at its time + ``width``."""
    lo = bisect_right(times, t - width)
    _exit(times, lo, width, exits)
    return bisect_right(times, t) - lo


def _customer_value(s: CustomerState, t: float, lifespan_years: float) -> float | None:
    if not s.orders_total or s.first_order is None:
        return None
    average = s.value_total / s.orders_total
    tenure_years = max(t - s.first_order, 90 * DAY) / (365 * DAY)
    return round(average * (s.orders_total / tenure_years) * lifespan_years, 2)
