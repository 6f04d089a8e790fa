"""A deliberately slow, obviously correct model of contract section 4: every signal recomputed
from all of a customer's events, straight from the contract's words. The property test drives the
engine and this model with the same random histories and compares them.

Not covered here: ``open_tickets`` and ``open_urgent_ticket_hours`` (a ticket's lifecycle has its
own tests in test_signals.py).
"""

from __future__ import annotations

from itertools import pairwise
from statistics import median
from typing import Any

from streams.events import Event, Login, Order, Payment, SupportTicket

DAY = 86400.0
STATUS = {
    "started": "active",
    "upgraded": "active",
    "resumed": "active",
    "downgraded": "downgraded",
    "paused": "paused",
    "cancelled": "cancelled",
}


def _in(ts: float, t: float, days: float) -> bool:
    return t - days * DAY < ts <= t


def reference_signals(events: list[Event], t: float, lifespan_years: float = 3.0) -> dict[str, Any]:
    """The signals of one customer at ``t`` from every event applied (duplicates by id dropped)."""
    seen: set[str] = set()
    unique: list[Event] = []
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            unique.append(e)
    events = [e for e in unique if e.ts <= t]
    out: dict[str, Any] = {}

    logins = sorted(e.ts for e in events if isinstance(e, Login) and e.success)
    out["days_since_last_login"] = (t - logins[-1]) / DAY if logins else None
    out["logins_7d"] = sum(1 for ts in logins if _in(ts, t, 7))
    prev = sum(1 for ts in logins if t - 35 * DAY < ts <= t - 7 * DAY)
    out["logins_prev_28d"] = prev
    out["login_trend"] = None if prev < 4 else out["logins_7d"] / (prev / 4)
    out["logins_total"] = len(logins)

    orders = [e for e in unique if isinstance(e, Order)]  # a cancellation counts whenever it comes
    voided = {e.order_id for e in orders if e.status in ("cancelled", "refunded")}
    placed = sorted((e.ts, e.amount) for e in orders if e.status == "placed" and e.order_id not in voided)
    until_t = [p for p in placed if p[0] <= t]
    out["days_since_last_order"] = (t - until_t[-1][0]) / DAY if until_t else None
    out["orders_90d"] = sum(1 for ts, _ in until_t if _in(ts, t, 90))
    out["order_value_90d"] = round(sum(a for ts, a in until_t if _in(ts, t, 90)), 2)
    gaps = [b - a for (a, _), (b, _) in pairwise(until_t)][-12:]
    out["median_order_gap_days"] = median(gaps) / DAY if len(gaps) >= 2 else None
    since, gap = out["days_since_last_order"], out["median_order_gap_days"]
    out["order_gap_ratio"] = since / gap if since is not None and gap else None
    out["orders_total"] = len(placed)

    charges = [e for e in events if isinstance(e, Payment) and e.kind in ("charge", "renewal")]
    failures = [e.ts for e in charges if e.status == "failed"]
    successes = [e.ts for e in charges if e.status == "succeeded"]
    out["payment_failures_30d"] = sum(1 for ts in failures if _in(ts, t, 30))
    last_success = max(successes, default=None)
    out["consecutive_payment_failures"] = sum(1 for ts in failures if last_success is None or ts > last_success)
    out["chargebacks_90d"] = sum(
        1 for e in events if isinstance(e, Payment) and e.kind == "chargeback" and _in(e.ts, t, 90)
    )
    subscription = [
        (e.ts, STATUS[e.action])
        for e in events
        if isinstance(e, Payment) and e.kind == "subscription" and e.action is not None
    ]
    out["subscription_status"] = max(subscription)[1] if subscription else "none"

    tickets = [e for e in events if isinstance(e, SupportTicket)]
    out["tickets_opened_14d"] = sum(1 for e in tickets if e.action == "opened" and _in(e.ts, t, 14))
    sentiments = [e.sentiment for e in tickets if e.sentiment is not None and _in(e.ts, t, 30)]
    out["avg_sentiment_30d"] = sum(sentiments) / len(sentiments) if sentiments else None
    out["sentiment_count_30d"] = len(sentiments)
    csat = [(e.ts, e.csat) for e in tickets if e.csat is not None]
    nps = [(e.ts, e.nps) for e in tickets if e.nps is not None]
    out["last_csat"] = max(csat)[1] if csat else None
    out["last_nps"] = max(nps)[1] if nps else None

    if placed:
        value_total = round(sum(a for _, a in placed), 2)
        tenure_years = max(t - placed[0][0], 90 * DAY) / (365 * DAY)
        out["customer_value"] = round(value_total / len(placed) * (len(placed) / tenure_years) * lifespan_years, 2)
    else:
        out["customer_value"] = None
    return out
