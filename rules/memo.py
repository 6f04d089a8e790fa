"""What the last evaluation of a customer found in its histories, kept beside its decoded state.

A :class:`Memo` lives on a decoded :class:`~rules.state.CustomerState` (``state.memo``; never
encoded: a decoded state starts without one), so that the next evaluation (``rules.frame``)
recomputes only what an event or the passing time can have changed:

- the logins (most events) keep two cursors, where the 7-day and the 35-day windows began at the
  last evaluation: the next one looks on from there instead of bisecting the whole list;
- every other history keeps its windowed values (:class:`Part`) for the times ``now`` in
  ``[since, until)``: from the evaluation that computed them to the first time one of its events
  leaves a window. A part is cached only when none of its events is after ``now`` (else an
  event also enters a window as time passes); the state's method that changes a history drops
  its part, and the open tickets, which do not depend on time, are kept
  until a ticket action.

Times are int epoch seconds and ``now`` is ``floor(t)``: for int times the values at ``t`` are
the values at ``now``.
"""

from __future__ import annotations

from typing import Final

NEVER: Final = 1 << 60  # no event leaves a window (below mypyc's boxed ints, far above any time)
FAR_BACK: Final = -(1 << 60)  # a cursor's time before any evaluation
UNKNOWN: Final = FAR_BACK  # a login not read yet (before any time: never "after" one)


class Derived:
    """What the due-time index needs that the signals already computed (``rules.frame``; a plain
    slotted class, not a named tuple: the compiled core builds one without a Python-level call).
    Each memo holds one, which every evaluation of its customer fills anew: a new object per
    evaluation (and its release) cost more than the rest of building the signal list."""

    __slots__ = ("exit", "gap", "last_order", "rest", "urgent")

    def __init__(
        self,
        last_order: int | None,
        gap: float | None,
        exit: int | None = None,
        urgent: int | None = None,
        rest: int | None = None,
    ) -> None:
        self.last_order = last_order  # the last placed order at or before t
        self.gap = gap  # median_order_gap_days
        self.exit = exit  # the earliest time after t at which a held event leaves a window
        self.urgent = urgent  # when the oldest open urgent ticket was (re)opened
        self.rest = rest  # the same as exit, for every history but the logins


class Part:
    """The windowed values of one history, valid for ``now`` in ``[since, until)``; ``until`` is
    the window exit (:data:`NEVER` for none). ``count``, ``extra``, ``start`` and ``value`` are
    the history's own (see ``rules.frame_parts``)."""

    __slots__ = ("count", "extra", "kept", "since", "start", "until", "value")

    def __init__(self, since: int, until: int, count: int, extra: int = 0, start: int = 0) -> None:
        self.since = since
        self.until = until
        self.count = count
        self.extra = extra
        self.start = start  # the index of the window's first event
        self.value: float | None = None
        self.kept = True  # no event of the history is after ``since``: the part may be kept

    def holds(self, now: int) -> bool:
        return self.since <= now < self.until


class OrdersPart(Part):
    """The orders' part: also the last order, the median gap and (once asked) order_value_90d."""

    __slots__ = ("gap", "last", "priced", "value_90d")

    def __init__(self, since: int, until: int, count: int, start: int, last: int | None, gap: float | None) -> None:
        super().__init__(since, until, count, 0, start)
        self.last = last
        self.gap = gap
        self.priced = False  # value_90d computed
        self.value_90d: int | float | None = None


class Memo:
    """The cursors of the logins and the cached parts of the other histories (see the module docstring)."""

    __slots__ = (
        "chargebacks",
        "derived",
        "exit",
        "failures",
        "month",
        "month_at",
        "month_first",
        "newest",
        "open_count",
        "opened",
        "orders",
        "quiet",
        "rest",
        "sentiments",
        "tickets",
        "urgent",
        "week",
        "week_at",
        "week_first",
    )

    def __init__(self) -> None:
        # every login before index ``week`` is at or before ``week_at`` (a lower bound of where the
        # window begins at any later time), and ``week_first`` is the login at ``week`` (NEVER:
        # ``week`` is the end of the list; UNKNOWN: not known); the same for ``month`` (35 days)
        self.week = self.month = 0
        self.week_at = self.month_at = FAR_BACK
        self.week_first = self.month_first = UNKNOWN
        self.newest = UNKNOWN  # at or after the last login of the list
        self.orders: OrdersPart | None = None
        self.failures: Part | None = None
        self.chargebacks: Part | None = None
        self.opened: Part | None = None
        self.sentiments: Part | None = None
        self.tickets = False  # open_count and urgent are the tickets' current values
        self.open_count = 0
        self.urgent: int | None = None
        self.derived = Derived(None, None)  # the last evaluation's (rules.frame), valid until the next one
        self.exit = NEVER  # its exit, unboxed (NEVER: None)
        self.rest = NEVER  # its rest, unboxed
        # the engine's quiet epoch when its last evaluation was quiet (rules.quiet), else 0
        self.quiet = 0

    def login_added(self, at: int, ts: int, cut: int) -> None:
        """The login ``ts`` went in at index ``at`` of the list, then its ``cut`` oldest were dropped."""
        if at == self.week:  # at the cursor: the end of the list (an insertion earlier moves no cursor)
            self.week_first = ts
        elif at < self.week:  # an older login inserted before the cursor: the login at it is another
            self.week_first = UNKNOWN
        if at == self.month:
            self.month_first = ts
        elif at < self.month:
            self.month_first = UNKNOWN
        if self.newest != UNKNOWN and ts > self.newest:  # (an upper bound of the last login is enough)
            self.newest = ts
        if cut > 0:
            if cut > self.week:
                self.week, self.week_first = 0, UNKNOWN
            else:
                self.week -= cut
            if cut > self.month:
                self.month, self.month_first = 0, UNKNOWN
            else:
                self.month -= cut
