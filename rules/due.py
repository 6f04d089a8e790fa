"""When can a customer's result next change? The due-time index that keeps ticks cheap.

Between its events, a customer's signals change only when an event leaves a window, or when a
"time since" signal crosses a threshold the rule pack compares it with; its alert decision also
changes when a cooldown ends, and its churn bookkeeping when it has been critical long enough.
``next_due`` returns the earliest such time after ``t``; a tick evaluates only the customers due
by then, which gives the same alerts as evaluating everyone (a property test checks it).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rules.alerts import cooldown_until
from rules.frame import HOUR, Derived
from rules.frame_parts import L7
from rules.memo import NEVER
from rules.model import whole_days
from rules.pack import RuleHit, RulePack
from rules.pack.native import NativeCheck, holds_at
from rules.records import open_urgent_since
from rules.signals import MODEL_SIGNALS, median_order_gap_days
from rules.state import DAY, CustomerState
from rules.windows import CHARGEBACKS, EDGES, FAILURES, LOGINS, OPENED, ORDERS, SENTIMENTS
from streams.parse import as_float

# signals that grow with time alone, with what they are measured from
CONTINUOUS: Final = frozenset(
    {"days_since_last_login", "days_since_last_order", "order_gap_ratio", "open_urgent_ticket_hours"}
)
# time-dependent signals that may appear in a guard (then: due at every tick)
TIME_DEPENDENT: Final = CONTINUOUS | {"customer_value"}
# the signals read from the login windows (rules.windows)
LOGIN_WINDOWED: Final = frozenset({"logins_7d", "logins_prev_28d", "login_trend"})


@dataclass(frozen=True, slots=True)
class Crossings:
    """The thresholds the pack compares each continuous signal with."""

    thresholds: dict[str, tuple[float, ...]] = field(default_factory=dict)
    every_tick: bool = False  # a guard uses a time-dependent signal
    # graded rules over continuous signals: rule id -> (signal, (threshold, full_at, step)), where its weight changes
    graded: dict[str, tuple[str, tuple[float, float, float]]] = field(default_factory=dict)
    model: bool = False  # the pack reads a model signal: they change once a day (whole days since the first order)
    # for a customer no rule fires for, a login leaving a window matters only when it can bring the
    # trend down to ``trend``, the largest x of the comparisons ``login_trend <= x`` (or ``< x``; -1:
    # none), unless a comparison of ``gates`` (the pack's checks) holds: its rule reads the login
    # windows in its guard (``_quiet_logins``). None: every login leaving a window is a due time.
    trend: float | None = None
    gates: tuple[NativeCheck, ...] = ()
    # thresholds[...] of each continuous signal, read by next_due at every evaluation without a dict lookup
    login: tuple[float, ...] | None = field(init=False, default=None)
    order: tuple[float, ...] | None = field(init=False, default=None)
    gap: tuple[float, ...] | None = field(init=False, default=None)
    urgent: tuple[float, ...] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        th = self.thresholds
        object.__setattr__(self, "login", th.get("days_since_last_login"))
        object.__setattr__(self, "order", th.get("days_since_last_order"))
        object.__setattr__(self, "gap", th.get("order_gap_ratio"))
        object.__setattr__(self, "urgent", th.get("open_urgent_ticket_hours"))


def crossings_for(pack: RulePack, with_model: bool = False) -> Crossings:
    """What the due-time index must watch for this pack (``with_model``: the model signals are
    not null, so they change once a day; without a model they are null, and never change)."""
    thresholds: dict[str, list[float]] = {}
    graded: dict[str, tuple[str, tuple[float, float, float]]] = {}
    every_tick = False
    model = with_model and not pack.signals_used.isdisjoint(MODEL_SIGNALS)
    for rule in pack.rules:
        for comp in rule.comparisons:
            if comp.signal in CONTINUOUS and isinstance(comp.threshold, int | float):
                thresholds.setdefault(comp.signal, []).append(float(comp.threshold))
                if rule.graded is not None and rule.graded.full_at > rule.graded.threshold:
                    graded[rule.id] = (comp.signal, rule.graded.grid())
                elif rule.graded is not None:  # a falling weight on a growing signal: rare, re-evaluated every tick
                    every_tick = True
        if rule.guard is not None and rule.guard.signals & TIME_DEPENDENT:
            every_tick = True
    quiet = None if model else _quiet_logins(pack)  # (a model's signals may read the logins)
    trend, gates = quiet if quiet is not None else (None, ())
    return Crossings({k: tuple(sorted(set(v))) for k, v in thresholds.items()}, every_tick, graded, model, trend, gates)


def _quiet_logins(pack: RulePack) -> tuple[float, tuple[NativeCheck, ...]] | None:
    """``Crossings.trend`` and ``Crossings.gates``, or None when every login leaving a window must
    be a due time. A rule that reads the login windows may only compare ``login_trend <= x`` (or
    ``< x``; no guard, no grading), or read them in its guard alone, over comparisons of other
    signals with numbers (``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=``): a guard is read only
    once a comparison holds, so such a rule (graded or not) cannot start firing while none does."""
    trend: set[float] = set()
    gates: dict[tuple[int, int, float], NativeCheck] = {}
    for rule in pack.rules:
        if not rule.signals & LOGIN_WINDOWED:
            continue
        if not rule.comparisons:  # an expr rule: its guard is the condition
            return None
        for comp in rule.comparisons:
            check = NativeCheck(comp)  # the pack's own comparison (op: -1 unless numeric)
            if check.op < 0:
                return None
            if comp.signal == "login_trend" and rule.guard is None and rule.graded is None and check.op in (2, 3):
                trend.add(check.number)  # <= or <
            elif comp.signal in LOGIN_WINDOWED or check.slot < 0 or comp.signal == "customer_value":
                return None  # (customer_value changes with time, at no due time)
            else:
                gates.setdefault((check.slot, check.op, check.number), check)
    return max(trend, default=-1.0), tuple(gates[key] for key in sorted(gates))


class _Soonest:
    """The earliest of the due times offered, as ``min`` of them in order gives it (the first of
    equal ones: an int window exit stays an int, as encoded), without a list of boxed numbers
    compared one by one (an int with a float is the slow comparison)."""

    __slots__ = ("at", "value")

    def __init__(self) -> None:
        self.at = math.inf
        self.value: int | float | None = None

    def offer(self, x: float) -> None:
        if x < self.at:
            self.at = x
            self.value = x

    def offer_int(self, x: int) -> None:
        at = float(x)  # exact: times are far below 2**53
        if at < self.at:
            self.at = at
            self.value = x


def _first_exit(times: Sequence[int], t: float, width: int, out: _Soonest) -> None:
    i = bisect.bisect_right(times, t - width)
    if i < len(times):
        out.offer_int(times[i] + width)


def crossing(base: int | None, scale: float, thresholds: tuple[float, ...] | None, t: float) -> float:
    """The first time after ``t`` at which ``(time - base) / scale`` reaches a threshold, or just
    passes one it reaches at ``t`` (inf: none;
    ``base``: an int time, typed so: compiled, a boxed int read as a double goes through a float object)."""
    first = math.inf
    if base is None or scale <= 0 or thresholds is None:
        return first
    for x in thresholds:
        when = base + x * scale
        if when == t:  # reached at t itself: a "<=" or ">" comparison turns just after it
            when = math.nextafter(t, math.inf)
        if when > t and when < first:
            first = when
    return first


def _grid_crossing(base: int | None, scale: float, grid: tuple[float, float, float], t: float, out: _Soonest) -> None:
    """The next step of a graded rule's grid that the growing signal ``(t - base) / scale`` reaches."""
    if base is None or scale <= 0:
        return
    value = (t - base) / scale
    threshold, full_at, step = grid  # rising grids only (full_at > threshold): see crossings_for
    if threshold <= value < full_at:
        k = math.floor((value - threshold) / step + 1e-9) + 1
        out.offer(max(base + (threshold + k * step) * scale, t + 1e-6))


def _window_exits(s: CustomerState, t: float, out: _Soonest) -> None:
    """When the next event leaves each window over each history (every edge of ``rules.windows``)."""
    lists = ((LOGINS, s.logins), (FAILURES, s.failures), (CHARGEBACKS, s.chargebacks), (OPENED, s.opened))
    for history, times in lists:
        if times:
            for width in EDGES[history]:
                _first_exit(times, t, width, out)
    for history, records in ((ORDERS, s.orders), (SENTIMENTS, s.sentiments)):
        if records:
            for width in EDGES[history]:
                i = bisect.bisect_right(records, (t - width, math.inf))
                if i < len(records):
                    out.offer_int(records[i].time + width)


def next_due(
    s: CustomerState,
    t: float,
    crossings: Crossings,
    *,
    cooldown: float,
    lost_after: float,
    tick: float,
    fired: tuple[RuleHit, ...] = (),
    derived: Derived | None = None,
    signals: list[Any] | None = None,
) -> int | float | None:
    """The earliest time after ``t`` at which this customer's evaluation can differ.

    ``fired``: the rules that fired at ``t``. A graded rule's weight changes at the next step of
    its grid only while it fires; one that does not fire can start only when its comparison
    crosses the threshold or its guard's signals change, which are due times already.
    ``derived``: the last order and the median gap at ``t``, when the signals already computed them;
    ``signals``: their values at ``t`` (in ``rules.signals.SLOTS`` order; a shorter list: null past its end)."""
    if crossings.every_tick:
        return t + min(tick, 1.0)
    if derived is None:
        out = _Soonest()
        _window_exits(s, t, out)
        return _soonest(s, t, crossings, cooldown, lost_after, fired, _derived(s, t), out.at, out.value)
    exit = derived.exit  # the signals found the earliest window exit on their way
    if exit is None:
        return _soonest(s, t, crossings, cooldown, lost_after, fired, derived, math.inf, None)
    trend = crossings.trend
    rest = derived.rest
    if trend is not None and not fired and (rest is None or exit < rest) and signals is not None:
        # the first exit is a login's, and no rule fires
        later = exit if _holds(signals, crossings.gates) else _quiet_logins_due(s, t, trend, exit)
        if rest is not None and rest < later:
            later = rest
        if later == NEVER:
            return _soonest(s, t, crossings, cooldown, lost_after, fired, derived, math.inf, None)
        exit = later
    return _soonest(s, t, crossings, cooldown, lost_after, fired, derived, float(exit), exit)


def held_after(s: CustomerState, t: float, due: int | float | None) -> int | float | None:
    """``due``, or earlier the first event after ``t`` the histories hold: an evaluation at ``t``
    before some of the customer's events (a late event's) counts only those at or before ``t``, and
    each later one enters the windows at its time (a tick then evaluates the customer again)."""
    first = NEVER
    for times in (s.logins, s.failures, s.chargebacks, s.opened):
        if times and times[len(times) - 1] > t:
            at = times[bisect.bisect_right(times, t)]
            if at < first:
                first = at
    for records in (s.orders, s.sentiments):
        if records and records[len(records) - 1].time > t:
            at = records[bisect.bisect_right(records, (t, math.inf))].time
            if at < first:
                first = at
    if first == NEVER or (due is not None and as_float(due) <= first):
        return due
    return first


def _holds(signals: list[Any], gates: tuple[NativeCheck, ...]) -> bool:
    """Whether a comparison of ``gates`` holds, as the pack compares (a null value: it does not)."""
    n = len(signals)
    for check in gates:
        if check.slot < n:
            value = signals[check.slot]
            if value is not None and holds_at(check, value):
                return True
    return False


def _quiet_logins_due(s: CustomerState, t: float, x: float, first: int) -> int:
    """For a customer no rule fires for at ``t``, just evaluated: the first time a login leaving a
    window can make ``login_trend <= x`` (or ``< x``) hold (NEVER: at no time), never before
    ``first``, the first login exit. It does not hold now (or a rule would fire).

    With ``w`` logins in the week and ``p`` in the 28 days before it, at a later time ``w' <= w``
    and ``p' <= p + (w - w')`` (until an event, only the week's logins move into the 28 days), so
    the trend ``4w'/p'`` reaches ``x >= 0`` only once ``w' <= x(p + w)/(4 + x)``: once ``w - k`` of
    the week's logins have left it, ``k`` the whole part of that bound. Any earlier time is a due
    time that changes nothing, so the bound is rounded up a little. The largest ``x`` of the pack
    gives the earliest time."""
    if x < 0:
        return NEVER  # a trend is never negative
    memo = s.memo
    if memo is None or memo.newest > t:  # a login after t enters the week later: not this case
        return first
    times = s.logins
    n = len(times)
    i = memo.week  # the week's first login (the frame's cursor, at t)
    w = n - i
    k = int(x * (n - memo.month) / (4.0 + x) + 1e-9)  # (p + w: the logins of the 35 days)
    if k >= w:
        return first
    due: int = times[n - k - 1] + L7  # when the (w - k)th login of the week leaves it
    return due


def _soonest(
    s: CustomerState,
    t: float,
    crossings: Crossings,
    cooldown: float,
    lost_after: float,
    fired: tuple[RuleHit, ...],
    derived: Derived,
    at: float,
    best: int | float | None,
) -> int | float | None:
    """``best`` (at ``at``: the earliest window exit) or an earlier due time: the first of equal
    ones in this order, as a :class:`_Soonest` offered them (a float offered is a float, compiled)."""
    last_order, gap = derived.last_order, derived.gap
    c = crossing(s.last_login, DAY, crossings.login, t)
    if c < at:
        at, best = c, c
    c = crossing(last_order, DAY, crossings.order, t)
    if c < at:
        at, best = c, c
    if gap:
        c = crossing(last_order, gap * DAY, crossings.gap, t)
        if c < at:
            at, best = c, c
    if crossings.graded and fired:
        out = _Soonest()
        for hit in fired:
            graded = crossings.graded.get(hit.rule)
            if graded is not None:
                _graded_due(s, t, graded, derived, out)
        if out.at < at:
            at, best = out.at, out.value
    if crossings.model:  # model histories are in whole days from the first order (and the first login)
        for first in (s.first_order, s.first_login):
            if first is not None and first <= t:
                day: float = first + (whole_days(t - first) + 1) * DAY
                if day < at:
                    at, best = day, day
    c = crossing(derived.urgent, HOUR, crossings.urgent, t)
    if c < at:
        at, best = c, c
    if s.tier > s.alert.tier:
        until = cooldown_until(s.alert, s.tier, t, cooldown)
        if until is not None and until > t:
            u: float = until
            if u < at:
                at, best = u, u
    if s.critical_since is not None and not s.lost:
        c = max(s.critical_since + lost_after, t + 1e-6)
        if c < at:
            best = c
    return best


def _graded_due(
    s: CustomerState,
    t: float,
    graded: tuple[str, tuple[float, float, float]],
    derived: Derived,
    out: _Soonest,
) -> None:
    signal, grid = graded
    last_order, gap = derived.last_order, derived.gap
    if signal == "days_since_last_login":
        _grid_crossing(s.last_login, DAY, grid, t, out)
    elif signal == "days_since_last_order":
        _grid_crossing(last_order, DAY, grid, t, out)
    elif signal == "order_gap_ratio":
        if gap:
            _grid_crossing(last_order, gap * DAY, grid, t, out)
    elif signal == "open_urgent_ticket_hours":
        _grid_crossing(derived.urgent, HOUR, grid, t, out)


def _derived(s: CustomerState, t: float) -> Derived:
    """The last placed order at or before ``t``, the median gap and the oldest open urgent ticket,
    for a caller without the signals (the window exits: ``_window_exits``)."""
    times = [o.time for o in s.orders]
    last = times[bisect.bisect_right(times, t) - 1] if times and times[0] <= t else None
    return Derived(last, median_order_gap_days(s, t), None, open_urgent_since(s.tickets))
