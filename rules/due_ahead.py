"""Which window exits can change a quiet customer's result: the due-time index's look-ahead.

``rules.due`` makes a customer due at the first time its evaluation can differ; every window exit
of every kept history is such a time in general. For a *quiet* customer (its evaluation at ``t``
fired no rule, its alert memory is healthy, no acknowledgement, and no event of the engine is
after ``t``), most exits change nothing: a login leaving the 7-day window moves ``logins_7d``
from 9 to 8 and ``logins_prev_28d`` from 3 to 4, and no rule crosses. :func:`first_change` gives
the due time of its window exits:

- an exit of a window no rule reads (``orders_90d`` when the pack reads no order window) is no
  due time;
- the logins' exits (most of them) are stepped through in time order: at each, the login
  signals are recomputed (the operations of ``rules.signals``) and the rules that read them run
  (:class:`Ahead`: a sub-pack); the first exit at which one of them fires is the due time, an
  exit at which none fires is skipped, and the one after ``MAX_STEPS`` checked is the due time
  unchecked (evaluating early is always safe; most customers have an event before their second
  exit, so checking more costs more than it saves);
- an exit of any other window a rule reads is a due time, as before.

Why a skipped exit changes nothing (the engine's alerts, aggregates and stored state but the due
time stay those of evaluating it):

- between ``t`` and ``limit`` (the earliest of the customer's other due times: thresholds of
  continuous signals, model days, cooldowns, the other windows' exits) the only signals that
  move are the login counts, at their exits, the windowed signals no rule reads, and the
  continuous ones, which cross none of their thresholds before ``limit`` (so each comparison
  over them keeps its outcome at ``t``: the assumption the index makes between any two due
  times); the rest change only with an event. A pack reading ``customer_value`` (which drifts
  with time and has no due time) or a guard over a time-dependent signal gets no look-ahead
  (:attr:`Ahead.enabled`);
- a rule that reads no login signal has the same inputs as at ``t``: it still does not fire;
- so at every time before the exit returned the pack fires nothing: an evaluation there is tier
  healthy, score 0 (revenue at risk 0.0), no alert (the memory is healthy), the same history
  snapshot, no critical or lost change: only the due time would be written.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, Final

from rules.pack import RulePack
from rules.signals import SLOT
from rules.state import DAY, CustomerState
from rules.windows import CHARGEBACKS, FAILURES, LOGINS, OPENED, ORDERS, SENTIMENTS, WINDOWS, Window

MAX_STEPS: Final = 2  # login exits checked per evaluation at most (then the next one is the due time)
NEVER: Final = 1 << 60
_bisect: Final = bisect_right  # a static of the compiled module (see rules.frame_parts)
TREND: Final = "login_trend"  # computed from the two login windows: logins_7d / (logins_prev_28d / 4)
WEEK: Final = WINDOWS["logins_7d"]
PREV: Final = WINDOWS["logins_prev_28d"]
W7: Final = 7 * DAY
W35: Final = 35 * DAY
LOGIN_SIGNALS: Final = frozenset({WEEK.signal, PREV.signal, TREND})
S_WEEK: Final = SLOT["logins_7d"]
S_PREV: Final = SLOT["logins_prev_28d"]
S_TREND: Final = SLOT[TREND]
# the histories by number (compiled: an int compared, not a string)
H_LOGINS: Final = 0
H_FAILURES: Final = 1
H_CHARGEBACKS: Final = 2
H_OPENED: Final = 3
H_ORDERS: Final = 4
H_SENTIMENTS: Final = 5
CODES: Final = {
    LOGINS: H_LOGINS,
    FAILURES: H_FAILURES,
    CHARGEBACKS: H_CHARGEBACKS,
    OPENED: H_OPENED,
    ORDERS: H_ORDERS,
    SENTIMENTS: H_SENTIMENTS,
}


class Ahead:
    """What the look-ahead needs of a pack: whether it may skip exits at all (``enabled``), the
    rules reading a login signal (``logins``: None when none does, or when the login windows are
    not the two this module steps through), the edges of the other windows it reads."""

    def __init__(self, pack: RulePack, every_tick: bool) -> None:
        read = pack.signals_used
        self.enabled = not every_tick and "customer_value" not in read
        login_windows = {w.signal for w in WINDOWS.values() if w.history == LOGINS}
        steppable = login_windows == {WEEK.signal, PREV.signal} and (WEEK.days, PREV.days, PREV.until_days) == (
            7,
            35,
            7,
        )
        self.logins: RulePack | None = None
        if steppable and not read.isdisjoint(LOGIN_SIGNALS):
            rules = tuple(r for r in pack.rules if not r.signals.isdisjoint(LOGIN_SIGNALS))
            used = frozenset[str]().union(*(r.signals for r in rules))
            self.logins = RulePack(rules, pack.tiers, pack.source, pack.version, used)
        others: list[Window] = [
            w for w in WINDOWS.values() if w.signal in read and (w.history != LOGINS or self.logins is None)
        ]
        if TREND in read and self.logins is None:
            others += [WEEK, PREV]
        edges: dict[str, set[int]] = {}
        for w in others:
            edges.setdefault(w.history, set()).update(d * DAY for d in (w.days, w.until_days) if d)
        # the other read windows' edges by history (seconds): each exit is a due time
        self.edges: list[tuple[int, tuple[int, ...]]] = [(CODES[h], tuple(sorted(e))) for h, e in sorted(edges.items())]


def first_change(s: CustomerState, t: float, values: list[Any], ahead: Ahead, limit: float) -> int | None:
    """The due time in ``(t, limit)`` of the customer's window exits (``values``: the signals at
    ``t``, which fired no rule); None when none is before ``limit`` (see the module docstring)."""
    now = math.floor(t)  # for int times: at or before t - w exactly when at or before now - w
    other = _other_exits(s, now, ahead)
    bound = min(limit, float(other))
    pack = ahead.logins
    logins = s.logins
    if pack is not None and logins:
        x = _login_change(logins, values, pack, bound)
        if x is not None:
            return x
    return other if other < limit else None


def _login_change(logins: array[int], values: list[Any], pack: RulePack, bound: float) -> int | None:
    """The first login exit before ``bound`` at which a login rule fires (or the one after
    ``MAX_STEPS`` checked); None when there is none. No login is after ``t``: the counts at
    ``t`` (``values``) give where each window begins."""
    n = len(logins)
    week: int = n - values[S_WEEK]  # the first login in the 7-day window
    month: int = week - values[S_PREV]  # the first in the 35-day one
    e7 = logins[week] + W7 if week < n else NEVER  # when each window's first login leaves it
    e35 = logins[month] + W35 if month < n else NEVER
    current: list[Any] | None = None
    for step in range(MAX_STEPS + 1):
        x = min(e7, e35)
        if x >= bound:
            return None
        if step == MAX_STEPS:
            return x
        while e7 <= x:
            week += 1
            e7 = logins[week] + W7 if week < n else NEVER
        while e35 <= x:
            month += 1
            e35 = logins[month] + W35 if month < n else NEVER
        if current is None:
            current = list(values)
        prev = week - month
        current[S_WEEK] = n - week
        current[S_PREV] = prev
        current[S_TREND] = None if prev < 4 else (n - week) / (prev / 4)
        if pack.evaluate_values(current).hits:
            return x
    return None


def _other_exits(s: CustomerState, now: int, ahead: Ahead) -> int:
    """The first exit after ``now`` of the other windows the pack reads (NEVER: none)."""
    first = NEVER
    for history, edges in ahead.edges:
        times = _times(s, history)
        if times is None:
            continue
        for width in edges:
            i = _bisect(times, now - width)
            if i < len(times):
                first = min(first, times[i] + width)
    return first


def _times(s: CustomerState, history: int) -> Sequence[int] | None:
    """A history's event times (the orders' and sentiments' as a new list); None when it is empty."""
    if history == H_FAILURES:
        return s.failures if s.failures else None
    if history == H_OPENED:
        return s.opened if s.opened else None
    if history == H_SENTIMENTS:
        return [x.time for x in s.sentiments] if s.sentiments else None
    if history == H_CHARGEBACKS:
        return s.chargebacks if s.chargebacks else None
    if history == H_ORDERS:
        return [o.time for o in s.orders] if s.orders else None
    return s.logins if s.logins else None
