"""The dashboard aggregates, fed by evaluations: customers and revenue at risk by tier, NPS, and
the churn rate of the last 30 days. One place for each formula; the engine keeps one
:class:`Aggregates` per partition, the worker adds the partitions' :class:`Totals` for its
gauges, and replay prints its totals in its summary.

- revenue at risk of a customer: ``rules.alerts.revenue_at_risk`` (customer_value × score / 100,
  to the cent), summed per tier;
- NPS: ``rules.scoring.nps`` over the customers' latest NPS answers (promoters 9–10, detractors 0–6);
- churn rate: customers lost in the last 30 days (cancelled, or critical for ``lost_after_days``)
  per 100 customers known at the start of those 30 days.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from rules.scoring import TIER_NAMES, nps
from rules.windows import DAY

CHURN_PERIOD = 30 * DAY
_TIERS = len(TIER_NAMES)


def nps_class(answer: int | None) -> int:
    """0 no answer, 1 promoter, -1 detractor, 2 passive."""
    if answer is None:
        return 0
    return 1 if answer >= 9 else (-1 if answer <= 6 else 2)


@dataclass(slots=True)
class Totals:
    """Aggregates at one time; partitions' totals add up (``+``)."""

    customers: int = 0
    by_tier: list[int] = field(default_factory=lambda: [0] * _TIERS)
    revenue_at_risk: list[float] = field(default_factory=lambda: [0.0] * _TIERS)
    promoters: int = 0
    detractors: int = 0
    nps_answers: int = 0
    lost_30d: int = 0
    customers_at_start: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.customers + other.customers,
            [a + b for a, b in zip(self.by_tier, other.by_tier, strict=True)],
            [a + b for a, b in zip(self.revenue_at_risk, other.revenue_at_risk, strict=True)],
            self.promoters + other.promoters,
            self.detractors + other.detractors,
            self.nps_answers + other.nps_answers,
            self.lost_30d + other.lost_30d,
            self.customers_at_start + other.customers_at_start,
        )

    @property
    def nps(self) -> float | None:
        return nps(self.promoters, self.detractors, self.nps_answers)

    @property
    def churn_rate(self) -> float | None:
        """% of the customers known 30 days ago lost since (None without any)."""
        start = self.customers_at_start
        return round(100.0 * self.lost_30d / start, 3) if start > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "by_tier": dict(zip(TIER_NAMES, self.by_tier, strict=True)),
            "revenue_at_risk": dict(zip(TIER_NAMES, (round(v, 2) for v in self.revenue_at_risk), strict=True)),
            "nps": self.nps,
            "churn_rate": self.churn_rate,
            "lost_30d": self.lost_30d,
            "customers_at_start": self.customers_at_start,
            "promoters": self.promoters,
            "detractors": self.detractors,
            "nps_answers": self.nps_answers,
        }

    def line(self) -> str:
        """One line for a summary: customers and revenue at risk by tier, NPS, churn rate."""
        tiers = ", ".join(
            f"{name} {n} ({rar:,.2f})"
            for name, n, rar in zip(TIER_NAMES, self.by_tier, self.revenue_at_risk, strict=True)
        )
        score = "n/a" if self.nps is None else f"{self.nps:.1f}"
        churn = "n/a" if self.churn_rate is None else f"{self.churn_rate:g}%"
        return f"tiers (revenue at risk): {tiers}; NPS {score}; churn rate 30d {churn}"


class TimeQueue:
    """Times in arrival order, 8 bytes each (a deque of floats costs 32: at a million customers
    the difference is 24 MB): append, undo the last, drop the oldest up to a time."""

    __slots__ = ("_head", "_times")

    def __init__(self) -> None:
        self._times = array("d")
        self._head = 0  # the oldest kept is _times[_head]

    def __len__(self) -> int:
        return len(self._times) - self._head

    def append(self, t: float) -> None:
        self._times.append(t)

    def pop(self) -> None:
        """Forget the last appended time."""
        self._times.pop()

    def drop_until(self, cutoff: float) -> None:
        """Drop the oldest times while they are at or before ``cutoff``."""
        times, head = self._times, self._head
        end = len(times)
        while head < end and times[head] <= cutoff:
            head += 1
        if head > 4096 and 2 * head > end:
            del times[:head]
            head = 0
        self._head = head


class Aggregates:
    """Kept up to date by the engine's evaluations (each customer counted in one tier)."""

    __slots__ = ("_lost", "_new", "_totals")

    def __init__(self) -> None:
        self._totals = Totals()
        self._new = TimeQueue()  # when each customer of the last 30 days was first seen
        self._lost = TimeQueue()  # when each customer of the last 30 days was lost

    def add(self, t: float, tier: int = 0, rar: float = 0.0, answer: int | None = None, *, fresh: bool = True) -> None:
        """A customer: new at ``t`` (``fresh``), or recovered from the store with its tier, rar and NPS answer."""
        s = self._totals
        s.customers += 1
        s.by_tier[tier] += 1
        s.revenue_at_risk[tier] += rar
        self.nps_changed(None, answer)
        if fresh:
            self._new.append(t)

    def discard_new(self) -> None:
        """Undo the last ``add`` of a new customer (its first event failed)."""
        s = self._totals
        s.customers -= 1
        s.by_tier[0] -= 1
        self._new.pop()

    def moved(self, old_tier: int, old_rar: float, tier: int, rar: float) -> None:
        if tier == old_tier and rar == 0.0 and old_rar == 0.0:
            return  # nothing moves (most evaluations); x - 0.0 + 0.0 is x for a sum of amounts, never -0.0
        s = self._totals
        s.by_tier[old_tier] -= 1
        s.revenue_at_risk[old_tier] -= old_rar
        s.by_tier[tier] += 1
        s.revenue_at_risk[tier] += rar

    def nps_changed(self, old: int | None, new: int | None) -> None:
        before, after = nps_class(old), nps_class(new)
        if before == after:
            return
        s = self._totals
        for cls, sign in ((before, -1), (after, 1)):
            if cls == 0:
                continue
            s.nps_answers += sign
            if cls == 1:
                s.promoters += sign
            elif cls == -1:
                s.detractors += sign

    def lost(self, t: float) -> None:
        self._lost.append(t)

    def totals(self, now: float) -> Totals:
        """The aggregates at ``now`` (the 30-day churn window ends there)."""
        self._new.drop_until(now - CHURN_PERIOD)
        self._lost.drop_until(now - CHURN_PERIOD)
        s = self._totals
        return Totals(
            s.customers,
            list(s.by_tier),
            list(s.revenue_at_risk),
            s.promoters,
            s.detractors,
            s.nps_answers,
            len(self._lost),
            s.customers - len(self._new),
        )
