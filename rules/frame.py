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
from typing import Any, Final

from rules.records import Order, Sentiment
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
# the bisection as a static of the compiled module (a name from the module's dict is looked up at each call)
_bisect: Final = bisect_right
# the window exits found on the way (Derived.exit) are every edge of rules.windows
_EXITS = {LOGINS: (_L7_LO, _LP_LO), ORDERS: (_O90,), FAILURES: (_F30,), CHARGEBACKS: (_C90,), OPENED: (_T14,)}
assert {**_EXITS, SENTIMENTS: (_S30,)} == EDGES, EDGES


class Derived:
    """What the due-time index needs that the signals already computed (a plain slotted class,
    not a named tuple: the compiled core builds one per evaluation without a Python-level call)."""

    __slots__ = ("exit", "gap", "last_order", "urgent")

    def __init__(
        self, last_order: int | None, gap: float | None, exit: int | None = None, urgent: int | None = None
    ) -> None:
        self.last_order = last_order  # the last placed order at or before t
        self.gap = gap  # median_order_gap_days
        self.exit = exit  # the earliest time after t at which a held event leaves a window
        self.urgent = urgent  # when the oldest open urgent ticket was (re)opened


def _exit(times: Sequence[int], i: int, width: int, out: list[int]) -> None:
    """``times[i]`` (the first time in a window ``width`` wide) leaves it at ``times[i] + width``."""
    if i < len(times):
        out.append(times[i] + width)


def _median(values: list[int]) -> float:
    data = sorted(values)  # as statistics.median
    n = len(data)
    i = n // 2
    return data[i] if n % 2 == 1 else (data[i - 1] + data[i]) / 2


def _upto(orders: list[Order], x: int) -> int:
    """How many of the time-sorted ``orders`` are at or before ``x``: ``bisect_right(orders,
    (x, math.inf))`` without building tuples or comparing an int with a float at every step."""
    if orders[0].time > x:
        return 0  # none (the commonest answer for the 90-day window)
    lo, hi = 1, len(orders)
    while lo < hi:
        mid = (lo + hi) // 2
        if orders[mid].time <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _sentiments_upto(sentiments: list[Sentiment], x: int) -> int:
    """``_upto`` for sentiments: ``bisect_right(sentiments, (x, math.inf))``."""
    lo, hi = 0, len(sentiments)
    while lo < hi:
        mid = (lo + hi) // 2
        if sentiments[mid].time <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _upto_now(times: Sequence[int], now: int) -> int:
    """``bisect_right(times, now)`` of a non-empty list, whose times are mostly all at or before now."""
    return len(times) if times[-1] <= now else _bisect(times, now)


def _gap(orders: list[Order]) -> float:
    """The median gap in days between the last ``ORDER_GAPS + 1`` of at least 3 orders."""
    n = len(orders)
    first = max(n - (ORDER_GAPS + 1), 0)
    return _median([orders[k + 1].time - orders[k].time for k in range(first, n - 1)]) / DAY


def _orders(
    s: CustomerState, t: float, now: int, exits: list[int], value: bool
) -> tuple[int | None, float | None, int, int | float | None, float | None]:
    """(last order time, days since it, orders_90d, order_value_90d, median gap in days) at ``t``
    (``now``: ``floor(t)``, which every int time compares with as it does with ``t``);
    order_value_90d is None unless ``value`` (its rounding costs as much as the rest)."""
    orders = s.orders
    if not orders:
        return None, None, 0, 0, None  # round(sum([]), 2) is the int 0, as the per-signal function gives
    i = _upto(orders, now - _O90)  # every order before i is at or before t - 90 days
    if i < len(orders):
        exits.append(orders[i].time + _O90)
    if orders[-1].time > now:
        orders = orders[: _upto(orders, now)]
        if not orders:
            return None, None, 0, 0, None
    value_90d: int | float | None = None
    if value:
        amounts = [o.amount for o in orders[i:]]
        value_90d = round(sum(amounts), 2) if amounts else 0  # the int 0 when empty, as above
    gap = _gap(orders) if len(orders) >= 3 else None
    last = orders[-1].time
    return last, (t - last) / DAY, len(orders) - i, value_90d, gap


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


def _payments(s: CustomerState, now: int, exits: list[int]) -> tuple[int, int]:
    """(payment_failures_30d, consecutive_payment_failures) of a customer with failures."""
    failures = s.failures
    f_now = _upto_now(failures, now)
    success = s.last_success
    f_success = _bisect(failures, success) if success is not None and success <= now else 0
    f_month = _bisect(failures, now - _F30)
    _exit(failures, f_month, _F30, exits)
    return f_now - f_month, f_now - f_success


def _sentiments(s: CustomerState, now: int, exits: list[int]) -> list[float]:
    """The sentiment values within 30 days of ``now`` (a customer with sentiments)."""
    sentiments = s.sentiments
    j = _sentiments_upto(sentiments, now - _S30)
    if j < len(sentiments):
        exits.append(sentiments[j].time + _S30)
    return [x.value for x in sentiments[j:] if x.time <= now]


# the frame's signals in order: rules.signals.SIGNALS, then customer_value (rules.signals checks it)
FRAME_NAMES: Final = (
    "days_since_last_login",
    "logins_7d",
    "logins_prev_28d",
    "login_trend",
    "days_since_last_order",
    "orders_90d",
    "order_value_90d",
    "median_order_gap_days",
    "order_gap_ratio",
    "payment_failures_30d",
    "consecutive_payment_failures",
    "chargebacks_90d",
    "subscription_status",
    "tickets_opened_14d",
    "open_tickets",
    "open_urgent_ticket_hours",
    "avg_sentiment_30d",
    "sentiment_count_30d",
    "last_csat",
    "last_nps",
    "logins_total",
    "orders_total",
    "customer_value",
)


def frame(
    s: CustomerState, t: float, lifespan_years: float, order_value: bool = True, value: bool = True
) -> tuple[dict[str, Any], Derived]:
    """Every signal of ``rules.signals.SIGNALS`` (in its order) and ``customer_value``, by name
    (:func:`frame_values`, which the engine reads by position)."""
    values, derived = frame_values(s, t, lifespan_years, order_value, value)
    return dict(zip(FRAME_NAMES, values, strict=True)), derived


def frame_values(
    s: CustomerState, t: float, lifespan_years: float, order_value: bool = True, value: bool = True
) -> tuple[list[Any], Derived]:
    """The values of :data:`FRAME_NAMES` at ``t``; ``order_value=False``: ``order_value_90d`` is
    left None (for a pack that does not read it); ``value=False``: ``customer_value`` too (the
    engine computes it only for a risk score above 0).

    Int times are compared with ``now = floor(t)``: for an int ``x``, ``x <= t`` exactly when
    ``x <= floor(t)``, and int-with-int comparisons are the cheap ones."""
    now = math.floor(t)
    exits: list[int] = []  # when each window's oldest event leaves it (rules.due takes the earliest)
    logins = s.logins
    logins_7d = prev = 0
    if logins:
        week = _bisect(logins, now - _L7_LO)
        logins_7d = _upto_now(logins, now) - week
        _exit(logins, week, _L7_LO, exits)
        if logins[0] > now - _LP_LO:  # the logins are kept for about the wider window: mostly all in it
            prev = week
            _exit(logins, 0, _LP_LO, exits)
        else:
            month = _bisect(logins, now - _LP_LO, 0, week)
            prev = week - month
            _exit(logins, month, _LP_LO, exits)
    last_order, since_order, orders_90d, value_90d, gap = _orders(s, t, now, exits, order_value)
    failures_30d, consecutive = _payments(s, now, exits) if s.failures else (0, 0)
    chargebacks_90d = _count(s.chargebacks, now, _C90, exits) if s.chargebacks else 0
    tickets_opened_14d = _count(s.opened, now, _T14, exits) if s.opened else 0
    open_count, urgent = _tickets(s) if s.tickets else (0, None)  # most customers: no ticket, no sentiment
    sentiments = _sentiments(s, now, exits) if s.sentiments else []
    sub = s.subscription
    out: list[Any] = [
        None if s.last_login is None else (t - s.last_login) / DAY,
        logins_7d,
        prev,
        None if prev < 4 else logins_7d / (prev / 4),
        since_order,
        orders_90d,
        value_90d,
        gap,
        None if since_order is None or not gap else since_order / gap,
        failures_30d,
        consecutive,
        chargebacks_90d,
        "none" if sub is None else str(sub.value),
        tickets_opened_14d,
        open_count,
        None if urgent is None else (t - urgent) / HOUR,
        sum(sentiments) / len(sentiments) if sentiments else None,
        len(sentiments),
        None if s.last_csat is None else int(s.last_csat.value),
        None if s.last_nps is None else int(s.last_nps.value),
        s.logins_total,
        s.orders_total,
        customer_value(s, t, lifespan_years) if value else None,
    ]
    return out, Derived(last_order, gap, _earliest(exits), urgent)


def _earliest(times: list[int]) -> int | None:
    """``min(times)``, None for none (a loop: the compiled core calls the builtin through a tuple)."""
    if not times:
        return None
    best = times[0]
    for x in times:
        if x < best:
            best = x
    return best


def _count(times: Sequence[int], now: int, width: int, exits: list[int]) -> int:
    """Events in ``(now - width, now]`` of a non-empty list; the first leaves the window at its time + ``width``."""
    lo = _bisect(times, now - width)
    _exit(times, lo, width, exits)
    return _upto_now(times, now) - lo


def customer_value(s: CustomerState, t: float, lifespan_years: float) -> float | None:
    if not s.orders_total or s.first_order is None:
        return None
    average = s.value_total / s.orders_total
    tenure_years = max(t - s.first_order, 90 * DAY) / (365 * DAY)
    return round(average * (s.orders_total / tenure_years) * lifespan_years, 2)
