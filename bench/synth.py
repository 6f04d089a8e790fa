"""Cheap synthetic events for the benchmarks.

- :func:`live_mix`: a contract-valid mix of JSON-ready event dicts (logins, orders, payments,
  tickets) in event-time order, for the live measurements; used when ``streams.simulate`` is not
  available, and always for the latency probes (:func:`cancel_event`, :func:`filler_login`).
- :func:`memory_set`: a minimal per-customer set of typed events (``streams.events``) for the
  memory and tick measurements at 1M customers, where running the full simulator would be slow.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

DAY = 86400.0


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def customer_id(i: int, prefix: str = "c-") -> str:
    return f"{prefix}{i:07d}"


def live_mix(n: int, customers: int, start: float, end: float, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``n`` events over ``customers`` customers with times spread evenly over [start, end)."""
    rng = random.Random(seed)
    step = (end - start) / max(n, 1)
    channels = ("web", "mobile", "api")
    for i in range(n):
        ts = start + i * step
        cid = customer_id(rng.randrange(customers))
        base = {"event_id": f"e-{seed}-{i}", "customer_id": cid, "ts": rfc3339(ts)}
        r = rng.random()
        if r < 0.70:
            yield {
                "type": "login",
                **base,
                "success": rng.random() > 0.03,
                "channel": channels[i % 3],
                "session_seconds": round(rng.uniform(5, 1800), 1),
            }
        elif r < 0.85:
            yield {
                "type": "order",
                **base,
                "order_id": f"o-{i}",
                "amount": round(rng.uniform(5, 300), 2),
                "currency": "USD",
                "status": "placed",
                "items": rng.randint(1, 6),
            }
        elif r < 0.95:
            yield {
                "type": "payment",
                **base,
                "kind": "renewal" if rng.random() < 0.5 else "charge",
                "amount": round(rng.uniform(5, 100), 2),
                "currency": "USD",
                "status": "succeeded" if rng.random() > 0.05 else "failed",
            }
        else:
            yield {
                "type": "support_ticket",
                **base,
                "ticket_id": f"t-{cid}-{i % 5}",
                "action": ("opened", "updated", "resolved")[i % 3],
                "priority": "normal",
                "category": "billing",
                "sentiment": round(rng.uniform(-1, 1), 2),
            }


def cancel_event(cid: str, ts: float, event_id: str) -> dict[str, Any]:
    """A subscription cancellation: fires ``subscription_cancelled`` (weight 100, critical) at once."""
    return {
        "type": "payment",
        "event_id": event_id,
        "customer_id": cid,
        "ts": rfc3339(ts),
        "kind": "subscription",
        "action": "cancelled",
        "plan": "pro",
    }


def filler_login(cid: str, ts: float, event_id: str) -> dict[str, Any]:
    return {
        "type": "login",
        "event_id": event_id,
        "customer_id": cid,
        "ts": rfc3339(ts),
        "success": True,
        "channel": "web",
    }


def memory_set(customers: int, events_per_customer: int, base: float, due_share: float) -> Iterator[Any]:
    """Typed events (``streams.events``) in event-time order: ``events_per_customer`` per customer.

    Per customer: logins, and one placed order when ``events_per_customer >= 4``. A ``due_share``
    of the customers (every ``round(1/due_share)``-th) had their events 13.5 days before ``base``,
    so at the first tick after the load they cross ``days_since_last_login >= 14``; the others'
    events all fall within the day after ``base``, so with an index of due customers only that
    share needs evaluating at that tick.
    """
    from streams.events import Login, Order

    every = max(1, round(1 / due_share)) if due_share > 0 else 0
    aging = [i for i in range(0, customers, every)] if every else []
    k = max(1, events_per_customer)
    # Aging group first: its events fall in [base - 13.9 d, base - 13.5 d).
    span = 0.4 * DAY
    for r in range(k):
        for j, i in enumerate(aging):
            ts = base - 13.9 * DAY + (r * len(aging) + j) * span / (k * max(len(aging), 1))
            yield _mem_event(i, r, k, ts, Login, Order)
    span = 0.9 * DAY
    for r in range(k):
        for i in range(customers):
            if every and i % every == 0:
                continue
            ts = base + (r * customers + i) * span / (k * customers)
            yield _mem_event(i, r, k, ts, Login, Order)


def _mem_event(i: int, r: int, k: int, ts: float, login: Any, order: Any) -> Any:
    cid = customer_id(i)
    if k >= 4 and r == k - 1:
        return order(f"m{i}-{r}", cid, ts, f"o{i}", 42.5, "USD")
    return login(f"m{i}-{r}", cid, ts)
