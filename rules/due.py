"""When can a customer's result next change? The due-time index that keeps ticks cheap.

Between its events, a customer's signals change only when an event leaves a window, or when a
"time since" signal crosses a threshold the rule pack compares it with; its alert decision also
changes when a cooldown ends, and its churn bookkeeping when it has been critical long enough.
``next_due`` returns the earliest such time after ``t``; a tick evaluates only the customers due
by then, which gives the same alerts as evaluating everyone (a property test checks it).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rules.alerts import cooldown_until
from rules.signals import HOUR, median_order_gap_days
from rules.state import DAY, CustomerState

# signals that grow with time alone, with what they are measured from
CONTINUOUS = frozenset(
    {"days_since_last_login", "days_since_last_order", "order_gap_ratio", "open_urgent_ticket_hours"}
)
# time-dependent signals that may appear in a guard (then: due at every tick)
TIME_DEPENDENT = CONTINUOUS | {"customer_value"}


@dataclass(frozen=True, slots=True)
class Crossings:
    """The thresholds the pack compares each continuous signal with."""

    thresholds: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    every_tick: bool = False  # a guard uses a time-dependent signal


def _first_exit(times: list[int], t: float, width: float, out: list[float]) -> None:
    i = bisect.bisect_right(times, t - width)
    if i < len(times):
        out.append(times[i] + width)


def _crossings(base: float | None, scale: float, thresholds: Iterable[float], t: float, out: list[float]) -> None:
    if base is None or scale <= 0:
        return
    for x in thresholds:
        when = base + x * scale
        if when > t:
            out.append(when)


def next_due(
    s: CustomerState, t: float, crossings: Crossings, *, cooldown: float, lost_after: float, tick: float
) -> float | None:
    """The earliest time after ``t`` at which this customer's evaluation can differ."""
    if crossings.every_tick:
        return t + min(tick, 1.0)
    out: list[float] = []
    _first_exit(s.logins, t, 7 * DAY, out)
    _first_exit(s.logins, t, 35 * DAY, out)
    order_times = [o[0] for o in s.orders]
    _first_exit(order_times, t, 90 * DAY, out)
    _first_exit(s.failures, t, 30 * DAY, out)
    _first_exit(s.chargebacks, t, 90 * DAY, out)
    _first_exit(s.opened, t, 14 * DAY, out)
    _first_exit([x[0] for x in s.sentiments], t, 30 * DAY, out)
    th = crossings.thresholds
    if "days_since_last_login" in th:
        _crossings(s.last_login, DAY, th["days_since_last_login"], t, out)
    last_order = order_times[bisect.bisect_right(order_times, t) - 1] if order_times and order_times[0] <= t else None
    if "days_since_last_order" in th:
        _crossings(last_order, DAY, th["days_since_last_order"], t, out)
    if "order_gap_ratio" in th:
        gap = median_order_gap_days(s, t)
        if gap:
            _crossings(last_order, gap * DAY, th["order_gap_ratio"], t, out)
    if "open_urgent_ticket_hours" in th:
        urgent = [k[2] for k in s.tickets.values() if k[1] and k[3] == "urgent" and k[2] is not None]
        if urgent:
            _crossings(min(urgent), HOUR, th["open_urgent_ticket_hours"], t, out)
    if s.tier > s.alert[0]:
        until = cooldown_until(s.alert, s.tier, t, cooldown)
        if until is not None and until > t:
            out.append(until)
    if s.critical_since is not None and not s.lost:
        out.append(max(s.critical_since + lost_after, t + 1e-6))
    return min(out) if out else None


class DueIndex:
    """A heap of (due time, customer id) with lazy invalidation (the state holds the truth)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, customer_id: str) -> None:
        heapq.heappush(self._heap, (due, customer_id))

    def peek(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, t: float) -> Iterable[tuple[float, str]]:
        heap = self._heap
        while heap and heap[0][0] <= t:
            yield heapq.heappop(heap)

    def clear(self) -> None:
        self._heap.clear()
