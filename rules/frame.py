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
from typing import Any, Final

from rules.frame_parts import (
    C90,
    T14,
    count_part,
    logins_part,
    orders_part,
    payments_part,
    sentiments_part,
    tickets_part,
)
from rules.memo import NEVER, Derived, Memo
from rules.records import round_places
from rules.state import DAY, CustomerState

HOUR: Final = 3600


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
    return _named(values), derived


def frame_signals(s: CustomerState, t: float, lifespan_years: float, nulls: dict[str, None]) -> dict[str, Any]:
    """Every signal of the frame by name, then each of ``nulls`` null: ``rules.signals.compute_signals``
    without a model (``nulls``: every signal null, the frame's first; the model's after), compiled
    (what an alert carries)."""
    return _named(frame_values(s, t, lifespan_years)[0], nulls)


_FRAME_NULLS: Final[dict[str, None]] = dict.fromkeys(FRAME_NAMES)


def _named(values: list[Any], nulls: dict[str, None] = _FRAME_NULLS) -> dict[str, Any]:
    """The frame's values by name, in a copy of ``nulls`` (the frame's names first): a dict made at
    its size, then filled (compiled, ``dict(zip(...))`` grows it step by step, several times slower)."""
    assert len(values) == len(FRAME_NAMES)
    out: dict[str, Any] = dict(nulls)
    for i, name in enumerate(FRAME_NAMES):
        out[name] = values[i]
    return out


def frame_values(
    s: CustomerState, t: float, lifespan_years: float, order_value: bool = True, value: bool = True
) -> tuple[list[Any], Derived]:
    """The values of :data:`FRAME_NAMES` at ``t``; ``order_value=False``: ``order_value_90d`` is
    left None (for a pack that does not read it); ``value=False``: ``customer_value`` too (the
    engine computes it only for a risk score above 0). The :class:`Derived` is the memo's, valid
    until the customer's next evaluation.

    Each history's windowed values come from ``rules.frame_parts`` through the state's memo
    (``rules.memo``: what an event or the passing time cannot have changed is not recomputed).
    Int times are compared with ``now = floor(t)``: for an int ``x``, ``x <= t`` exactly when
    ``x <= floor(t)``, and int-with-int comparisons are the cheap ones."""
    now = math.floor(t)
    memo = s.memo
    if memo is None:
        memo = s.memo = Memo()
    first_exit = NEVER  # when the first held event of a history other than the logins leaves a window (rules.due)
    login_exit = NEVER  # and the first login
    logins_7d = prev = 0
    if s.logins:
        logins_7d, prev, login_exit = logins_part(s.logins, memo, now)
    last_order: int | None = None
    since_order: float | None = None
    gap: float | None = None
    orders_90d: object = 0  # (the counts as objects: a 0 is the boxed constant, not an int boxed anew)
    value_90d: int | float | None = 0  # round(sum([]), 2) is the int 0, as the per-signal function gives
    if s.orders:
        orders = orders_part(s.orders, memo, now, order_value)
        first_exit = min(first_exit, orders.until)
        last_order, gap, orders_90d = orders.last, orders.gap, orders.count
        if last_order is not None:
            since_order = (t - last_order) / DAY
            value_90d = orders.value_90d if order_value else None  # else 0: no placed order yet at t
    failures_30d, consecutive, chargebacks_90d, tickets_opened_14d, exit = _counts(s, memo, now)
    first_exit = min(first_exit, exit)
    open_count, urgent, avg_sentiment, sentiment_count, exit = _support(s, memo, now)
    first_exit = min(first_exit, exit)
    sub = s.subscription
    csat = None if s.last_csat is None else s.last_csat.value
    nps = None if s.last_nps is None else s.last_nps.value
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
        "none" if sub is None else _text(sub.value),
        tickets_opened_14d,
        open_count,
        None if urgent is None else (t - urgent) / HOUR,
        avg_sentiment,
        sentiment_count,
        None if csat is None else csat if type(csat) is int else int(csat),  # (an int is its own int(): no call)
        None if nps is None else nps if type(nps) is int else int(nps),
        s.logins_total,
        s.orders_total,
        customer_value(s, t, lifespan_years) if value else None,
    ]
    return out, _derived(memo, last_order, gap, urgent, first_exit, login_exit)


def _derived(
    memo: Memo, last_order: int | None, gap: float | None, urgent: int | None, rest: int, login_exit: int
) -> Derived:
    """The memo's :class:`Derived`, filled; its exits boxed anew only when they moved (an int object
    made, and the last one freed, at each evaluation cost more than the comparison)."""
    derived = memo.derived
    derived.last_order, derived.gap, derived.urgent = last_order, gap, urgent
    exit = min(rest, login_exit)
    if exit != memo.exit:
        memo.exit = exit
        derived.exit = None if exit == NEVER else exit
    if rest != memo.rest:
        memo.rest = rest
        derived.rest = None if rest == NEVER else rest
    return derived


def _text(value: Any) -> str:
    """``str(value)``; a str is its own (compiled, ``str()`` of one is still a call)."""
    return value if type(value) is str else str(value)


def _counts(s: CustomerState, memo: Memo, now: int) -> tuple[object, object, object, object, int]:
    """(payment_failures_30d, consecutive_payment_failures, chargebacks_90d, tickets_opened_14d,
    the first exit of their windows); the counts as objects (most customers: each the constant 0)."""
    first_exit = NEVER
    failures_30d: object = 0
    consecutive: object = 0
    chargebacks_90d: object = 0
    opened_14d: object = 0
    if s.failures:
        failures = payments_part(s.failures, s.last_success, memo, now)
        first_exit = min(first_exit, failures.until)
        failures_30d, consecutive = failures.count, failures.extra
    if s.chargebacks:
        part = count_part(s.chargebacks, memo.chargebacks, now, C90)
        memo.chargebacks = part if part.kept else None
        first_exit = min(first_exit, part.until)
        chargebacks_90d = part.count
    if s.opened:
        part = count_part(s.opened, memo.opened, now, T14)
        memo.opened = part if part.kept else None
        first_exit = min(first_exit, part.until)
        opened_14d = part.count
    return failures_30d, consecutive, chargebacks_90d, opened_14d, first_exit


def _support(s: CustomerState, memo: Memo, now: int) -> tuple[object, int | None, float | None, object, int]:
    """(open_tickets, when the oldest open urgent ticket was (re)opened, avg_sentiment_30d,
    sentiment_count_30d, the first exit of the sentiments' window); the counts as objects."""
    open_count: object = 0
    urgent: int | None = None
    if s.tickets:  # most customers: no ticket, no sentiment
        tickets_part(s.tickets, memo)
        open_count, urgent = memo.open_count, memo.urgent
    if not s.sentiments:
        return open_count, urgent, None, 0, NEVER
    sentiments = sentiments_part(s.sentiments, memo, now)
    return open_count, urgent, sentiments.value, sentiments.count, sentiments.until


def customer_value(s: CustomerState, t: float, lifespan_years: float) -> float | None:
    if not s.orders_total or s.first_order is None:
        return None
    average = s.value_total / s.orders_total
    tenure_years = max(t - s.first_order, 90 * DAY) / (365 * DAY)
    return round_places(average * (s.orders_total / tenure_years) * lifespan_years, 2)
