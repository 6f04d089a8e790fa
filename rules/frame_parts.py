"""The windowed values of each history at ``now``, through the customer's memo (``rules.memo``).

``rules.frame`` assembles the signals from these parts. Each function returns what the signals
read of one history and the time its first event leaves a window (the exit the due-time index
takes; :data:`~rules.memo.NEVER` for none), reusing the memo's part while it holds and keeping
the part it computes when no event of the history is after ``now``. Values are those of the
per-signal functions of ``rules.signals`` (the same operations in the same order).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Final

from rules.memo import NEVER, UNKNOWN, Memo, OrdersPart, Part
from rules.records import Order, Sentiment, Ticket, round_places
from rules.state import DAY, ORDER_GAPS
from rules.windows import CHARGEBACKS, EDGES, FAILURES, LOGINS, OPENED, ORDERS, SENTIMENTS, WINDOWS


def _width(signal: str, history: str, until_days: int = 0) -> int:
    """The width of the signal's window in seconds, checking the history and the upper edge
    (``until_days``) that the fused code below assumes."""
    w = WINDOWS[signal]
    assert (w.history, w.until_days) == (history, until_days), (signal, w)
    return w.days * DAY


# Final: the compiled core (mypyc) reads them as constants, not from the module's dict
L7: Final = _width("logins_7d", LOGINS)
L35: Final = _width("logins_prev_28d", LOGINS, until_days=7)
O90: Final = _width("orders_90d", ORDERS)
F30: Final = _width("payment_failures_30d", FAILURES)
C90: Final = _width("chargebacks_90d", CHARGEBACKS)
T14: Final = _width("tickets_opened_14d", OPENED)
S30: Final = _width("avg_sentiment_30d", SENTIMENTS)
assert _width("order_value_90d", ORDERS) == O90 and _width("sentiment_count_30d", SENTIMENTS) == S30
assert L7 == 7 * DAY  # logins_prev_28d ends where logins_7d begins
# the exits found here are every edge of rules.windows
assert {LOGINS: (L7, L35), ORDERS: (O90,), FAILURES: (F30,), CHARGEBACKS: (C90,), OPENED: (T14,)} | {
    SENTIMENTS: (S30,)
} == EDGES, EDGES
# the bisection as a static of the compiled module (a name from the module's dict is looked up at each call)
_bisect: Final = bisect_right
_GALLOP: Final = 4  # a cursor steps this many times at most, then bisects the rest


def _seek(times: array[int], lo: int, first: int, x: int) -> tuple[int, int]:
    """``(i, times[i])`` for the first index ``i`` whose time is after ``x``, given that every
    time before ``lo`` is at or before ``x`` (``(len, NEVER)`` when none is after ``x``);
    ``first``: ``times[lo]`` when known (NEVER: ``lo`` is the end), else UNKNOWN."""
    if first > x:  # the window still begins where it did (most evaluations): nothing to read
        return lo, first
    n = len(times)
    # a known first is at or before x here: the search starts after it (compiled, reading an item of
    # an array costs an int object made, unboxed and freed; an advancing window most often moves by one)
    i = min(lo, n) if first == UNKNOWN else lo + 1
    while i < n:
        first = times[i]
        if first > x:
            return i, first
        i += 1
        if i - lo >= _GALLOP:
            i = _bisect(times, x, i)
            return (i, times[i]) if i < n else (n, NEVER)
    return n, NEVER


def logins_part(times: array[int], memo: Memo, now: int) -> tuple[int, int, int]:
    """``(logins_7d, logins_prev_28d, first exit)`` of a non-empty login list, from the memo's
    cursors (each a lower bound of where its window begins at any later time)."""
    x = now - L7
    if x >= memo.week_at:
        week, first = _seek(times, memo.week, memo.week_first, x)
    else:
        week, first = _seek(times, 0, UNKNOWN, x)
    memo.week, memo.week_at, memo.week_first = week, x, first
    exit_7 = first + L7 if first != NEVER else NEVER
    y = now - L35
    if y < memo.month_at:
        month, first = _seek(times, 0, UNKNOWN, y)
    elif memo.month == week:  # every login before it is at or before y, and the next one is after x > y
        month = week
    else:
        month, first = _seek(times, memo.month, memo.month_first, y)
    memo.month, memo.month_at, memo.month_first = month, y, first
    exit_35 = first + L35 if first != NEVER else NEVER
    n = len(times)
    newest = memo.newest
    if newest == UNKNOWN:
        newest = memo.newest = times[n - 1]
    upto = n if newest <= now else _bisect(times, now)
    return upto - week, week - month, min(exit_7, exit_35)


def upto(orders: list[Order], x: int) -> int:
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


def _median(values: list[int]) -> float:
    data = sorted(values)  # as statistics.median
    n = len(data)
    i = n // 2
    return data[i] if n % 2 == 1 else (data[i - 1] + data[i]) / 2


def _gap(orders: list[Order]) -> float:
    """The median gap in days between the last ``ORDER_GAPS + 1`` of at least 3 orders."""
    n = len(orders)
    first = max(n - (ORDER_GAPS + 1), 0)
    return _median([orders[k + 1].time - orders[k].time for k in range(first, n - 1)]) / DAY


def _price(part: OrdersPart, placed: list[Order]) -> None:
    """order_value_90d: the int 0 for no order in the window, as ``round(sum([]), 2)`` gives."""
    amounts = [o.amount for o in placed[part.start :]]
    part.value_90d = round_places(sum(amounts), 2) if amounts else 0
    part.priced = True


def orders_part(orders: list[Order], memo: Memo, now: int, value: bool) -> OrdersPart:
    """The orders' part of a non-empty order list (``value``: with order_value_90d)."""
    part = memo.orders
    if part is not None and part.holds(now):
        if value and not part.priced:
            _price(part, orders)
        return part
    i = upto(orders, now - O90)  # every order before i is at or before now - 90 days
    until = orders[i].time + O90 if i < len(orders) else NEVER
    placed = orders
    if orders[-1].time > now:  # not kept: orders also come into the windows as time passes
        placed = orders[: upto(orders, now)]
        memo.orders = None
    if not placed:
        part = OrdersPart(now, until, 0, i, None, None)
        part.value_90d, part.priced = 0, True  # round(sum([]), 2), as the per-signal function gives
        return part
    gap = _gap(placed) if len(placed) >= 3 else None
    part = OrdersPart(now, until, len(placed) - i, i, placed[-1].time, gap)
    if value:
        _price(part, placed)
    if placed is orders:
        memo.orders = part
    return part


def payments_part(failures: array[int], success: int | None, memo: Memo, now: int) -> Part:
    """``count``: payment_failures_30d, ``extra``: consecutive_payment_failures (failures not empty)."""
    part = memo.failures
    if part is not None and part.holds(now):
        return part
    n = len(failures)
    f_now = n if failures[n - 1] <= now else _bisect(failures, now)
    f_success = _bisect(failures, success) if success is not None and success <= now else 0
    f_month = _bisect(failures, now - F30)
    until = failures[f_month] + F30 if f_month < n else NEVER
    part = Part(now, until, f_now - f_month, f_now - f_success)
    memo.failures = part if f_now == n and (success is None or success <= now) else None
    return part


def count_part(times: array[int], part: Part | None, now: int, width: int) -> Part:
    """Events in ``(now - width, now]`` of a non-empty list (``part``: the memo's; a new part is
    ``kept`` when no event is after ``now``)."""
    if part is not None and part.holds(now):
        return part
    n = len(times)
    lo = _bisect(times, now - width)
    hi = n if times[n - 1] <= now else _bisect(times, now)
    part = Part(now, times[lo] + width if lo < n else NEVER, hi - lo)
    part.kept = hi == n
    return part


def _sentiments_upto(sentiments: list[Sentiment], x: int) -> int:
    """``bisect_right(sentiments, (x, math.inf))``."""
    lo, hi = 0, len(sentiments)
    while lo < hi:
        mid = (lo + hi) // 2
        if sentiments[mid].time <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def sentiments_part(sentiments: list[Sentiment], memo: Memo, now: int) -> Part:
    """``count``: sentiment_count_30d, ``value``: avg_sentiment_30d (sentiments not empty)."""
    part = memo.sentiments
    if part is not None and part.holds(now):
        return part
    j = _sentiments_upto(sentiments, now - S30)
    values = [x.value for x in sentiments[j:] if x.time <= now]
    part = Part(now, sentiments[j].time + S30 if j < len(sentiments) else NEVER, len(values))
    part.value = sum(values) / len(values) if values else None
    memo.sentiments = part if sentiments[-1].time <= now else None
    return part


def tickets_part(tickets: dict[int, Ticket], memo: Memo) -> None:
    """The open tickets and when the oldest open urgent one was (re)opened, into the memo."""
    if memo.tickets:
        return
    open_count = 0
    urgent: int | None = None
    for k in tickets.values():
        if k.open:
            open_count += 1
            if k.priority == "urgent" and k.opened is not None and (urgent is None or k.opened < urgent):
                urgent = k.opened
    memo.open_count, memo.urgent, memo.tickets = open_count, urgent, True
