"""What the state keeps of each history, declared once: its cap and the windows of the signals
read from it. The state trims a history to its horizon (the widest window over it), the windowed
signals count in their window, and the due-time index takes every window edge as a time at which
an event leaves a window: all three from :data:`WINDOWS`. A new windowed signal is one line here
(and its function in ``rules.signals``, which reads the window by the signal's name).

A window "of the last N days" holds the events with time in ``(t − N days, t]``; one with
``until_days`` M holds ``(t − N days, t − M days]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DAY: Final = 86400

# every history the state keeps as a time-sorted list, with its cap (the oldest beyond it are dropped)
LOGINS: Final = "logins"  # successful login times
ORDERS: Final = "orders"  # placed orders (time, amount, order-id hash)
FAILURES: Final = "failures"  # failed charge/renewal times
CHARGEBACKS: Final = "chargebacks"  # chargeback times
OPENED: Final = "opened"  # ticket "opened" action times
SENTIMENTS: Final = "sentiments"  # (time, sentiment) of tickets
CAPS: dict[str, int] = {LOGINS: 256, ORDERS: 64, FAILURES: 32, CHARGEBACKS: 16, OPENED: 32, SENTIMENTS: 32}


@dataclass(frozen=True, slots=True)
class Window:
    """The events of ``history`` with time in ``(t − days, t − until_days]`` (in days)."""

    signal: str
    history: str
    days: int
    until_days: int = 0

    def bounds(self, t: float) -> tuple[float, float]:
        """``(lo, hi]`` at ``t``, in epoch seconds."""
        return t - self.days * DAY, t - self.until_days * DAY


WINDOWS: dict[str, Window] = {
    w.signal: w
    for w in (
        Window("logins_7d", LOGINS, 7),
        Window("logins_prev_28d", LOGINS, 35, 7),
        Window("orders_90d", ORDERS, 90),
        Window("order_value_90d", ORDERS, 90),
        Window("payment_failures_30d", FAILURES, 30),
        Window("chargebacks_90d", CHARGEBACKS, 90),
        Window("tickets_opened_14d", OPENED, 14),
        Window("avg_sentiment_30d", SENTIMENTS, 30),
        Window("sentiment_count_30d", SENTIMENTS, 30),
    )
}


def _horizons() -> dict[str, int]:
    out = dict.fromkeys(CAPS, 0)
    for w in WINDOWS.values():
        out[w.history] = max(out[w.history], w.days * DAY)
    return out


def _edges() -> dict[str, tuple[int, ...]]:
    out: dict[str, set[int]] = {h: set() for h in CAPS}
    for w in WINDOWS.values():
        out[w.history].update(d * DAY for d in (w.days, w.until_days) if d)
    return {h: tuple(sorted(e)) for h, e in out.items()}


# how far back from the clock each history is kept: its widest window (the state keeps some
# more where a signal needs it: the last orders for the median gap, failures since the last success)
HORIZONS: dict[str, int] = _horizons()
# the window edges over each history (seconds): an event at time x leaves a window at x + edge
EDGES: dict[str, tuple[int, ...]] = _edges()
