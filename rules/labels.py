"""The backtest's label rule: did a customer churn within the horizon after a cut-off?

Default rule (``LabelRule()``): a customer known at the cut-off (any event before it) *churned*
when, in ``[cut-off, cut-off + horizon)``, it placed no order and made no successful login, or
its subscription was cancelled. Each part can be switched off (``orders``, ``logins``,
``cancellation``); with both activity kinds off only a cancellation labels churn.

Activity is what the engine's state counts: placed orders (an order later cancelled or refunded,
by ``order_id``, is no activity) and successful logins. Pure: events in, labels out.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.events import Event, Login, Order, Payment


@dataclass(frozen=True, slots=True)
class LabelRule:
    orders: bool = True  # a placed order within the horizon means "stayed"
    logins: bool = True  # a successful login within the horizon means "stayed"
    cancellation: bool = True  # a subscription cancelled within the horizon means "churned"

    def describe(self) -> str:
        kinds = [k for k, on in (("order", self.orders), ("successful login", self.logins)) if on]
        text = f"no {' and no '.join(kinds)} within the horizon" if kinds else ""
        if self.cancellation:
            text = f"{text}, or a subscription cancelled within it" if text else "a subscription cancelled within it"
        return text


@dataclass(slots=True)
class Activity:
    """One customer's activity times (each list sorted)."""

    first_event: float = float("inf")
    orders: list[float] = field(default_factory=list)
    logins: list[float] = field(default_factory=list)
    cancellations: list[float] = field(default_factory=list)


def activities(events: Iterable[Event]) -> dict[str, Activity]:
    """Every customer's activity, from events in any order."""
    out: dict[str, Activity] = {}
    placed: dict[tuple[str, str], float] = {}
    voided: set[tuple[str, str]] = set()
    for event in events:
        act = out.get(event.customer_id)
        if act is None:
            act = out[event.customer_id] = Activity()
        act.first_event = min(act.first_event, event.ts)
        if isinstance(event, Order):
            key = (event.customer_id, event.order_id)
            if event.status == "placed":
                placed.setdefault(key, event.ts)
            else:
                voided.add(key)
        elif isinstance(event, Login) and event.success:
            act.logins.append(event.ts)
        elif isinstance(event, Payment) and event.kind == "subscription" and event.action == "cancelled":
            act.cancellations.append(event.ts)
    for (cid, oid), ts in placed.items():
        if (cid, oid) not in voided:
            out[cid].orders.append(ts)
    for act in out.values():
        act.orders.sort()
        act.logins.sort()
        act.cancellations.sort()
    return out


def _any_in(times: list[float], lo: float, hi: float) -> bool:
    return bisect.bisect_left(times, hi) > bisect.bisect_left(times, lo)


def churned(act: Activity, cutoff: float, horizon: float, rule: LabelRule = LabelRule()) -> bool:
    """The label of a customer known at ``cutoff``: True when it churned within the horizon."""
    end = cutoff + horizon
    if rule.cancellation and _any_in(act.cancellations, cutoff, end):
        return True
    if not (rule.orders or rule.logins):
        return False
    stayed = (rule.orders and _any_in(act.orders, cutoff, end)) or (rule.logins and _any_in(act.logins, cutoff, end))
    return not stayed


def last_activity(act: Activity, before: float) -> float | None:
    """The time of the customer's last order or successful login before ``before``."""
    last = None
    for times in (act.orders, act.logins):
        i = bisect.bisect_left(times, before)
        if i:
            last = times[i - 1] if last is None else max(last, times[i - 1])
    return last


def churn_time(act: Activity, cutoff: float, horizon: float) -> float | None:
    """When a churner was lost, for lead times: its cancellation within the horizon, else its
    last activity before the cut-off (None when it had none)."""
    i = bisect.bisect_left(act.cancellations, cutoff)
    if i < len(act.cancellations) and act.cancellations[i] < cutoff + horizon:
        return act.cancellations[i]
    return last_activity(act, cutoff)
