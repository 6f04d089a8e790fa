"""Small builders for events and rule packs in tests."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

from rules.pack import RulePack, parse_pack
from streams.events import Login, Order, Payment, SupportTicket

DAY = 86400.0
T0 = 1_790_000_000.0  # an arbitrary epoch second (2026-09-21T...)


def login(cid: str, ts: float, eid: str | None = None, success: bool = True) -> Login:
    return Login(eid or f"l-{cid}-{ts}", cid, ts, success=success)


def order(cid: str, ts: float, oid: str, amount: float = 50.0, status: str = "placed", eid: str | None = None) -> Order:
    return Order(
        eid or f"o-{cid}-{oid}-{status}-{ts}", cid, ts, order_id=oid, amount=amount, currency="USD", status=status
    )


def payment(cid: str, ts: float, **fields: Any) -> Payment:
    eid = fields.pop("eid", None) or f"p-{cid}-{ts}-{sorted(fields.items())}"
    return Payment(eid, cid, ts, **fields)


def ticket(cid: str, ts: float, tid: str, action: str, **fields: Any) -> SupportTicket:
    eid = fields.pop("eid", None) or f"t-{cid}-{tid}-{action}-{ts}"
    return SupportTicket(eid, cid, ts, ticket_id=tid, action=action, **fields)


# an alert's fields in the contract's order
ALERT_FIELDS = (
    "schema_version",
    "alert_id",
    "customer_id",
    "status",
    "tier",
    "previous_tier",
    "risk_score",
    "event_time",
    "rules",
    "signals",
    "revenue_at_risk",
    "changes",
)
# the rule of the contract's example alert, as it shows in the alert
CONTRACT_EXAMPLE_RULE = {
    "rule": "login_inactivity",
    "weight": 35,
    "signal": "days_since_last_login",
    "value": 15.2,
    "threshold": 14,
    "reason": "no login for 15.2 days (threshold 14)",
}


def seen_text(hashes: Iterable[int]) -> str:
    """A state's seen event ids (``CustomerState.seen``) holding these 32-bit hashes: their
    little-endian words as latin-1 text."""
    words = list(hashes)
    return struct.pack(f"<{len(words)}I", *words).decode("latin-1")


HEAD = "version: 1\ntiers: {watch: 25, at_risk: 50, critical: 75}\nrules:\n"  # a pack's lines before its rules


def pack_of(rules: str) -> RulePack:
    """The pack of the default tiers and ``rules`` (YAML list items); fails the test on a problem."""
    pack, problems = parse_pack(HEAD + rules, "test.yaml")
    assert pack is not None, "\n".join(map(str, problems))
    return pack


def rule(rid: str, signal: str, op: str, threshold: Any, when: str | None = None, weight: int = 30) -> str:
    """One rule of a pack (for :func:`pack_of`)."""
    text = f'  - id: {rid}\n    weight: {weight}\n    signal: {signal}\n    op: "{op}"\n    threshold: {threshold}\n'
    return text + (f'    when: "{when}"\n' if when else "") + "    reason: r\n"
