"""Typed input events (contract section 2).

Times are float epoch seconds (event time). Optional fields are ``None`` when absent.
Events are immutable, slotted and cheap: the engine receives them after validation
(:mod:`streams.parse`), so every field here already satisfies the contract's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventType(StrEnum):
    """The ``"type"`` of a JSON Lines event and the input topic it belongs to."""

    LOGIN = "login"
    ORDER = "order"
    PAYMENT = "payment"
    SUPPORT_TICKET = "support_ticket"


@dataclass(frozen=True, slots=True)
class Login:
    event_id: str
    customer_id: str
    ts: float
    success: bool = True
    channel: str = "web"
    session_seconds: float | None = None

    type = EventType.LOGIN


@dataclass(frozen=True, slots=True)
class Order:
    event_id: str
    customer_id: str
    ts: float
    order_id: str
    amount: float
    currency: str
    status: str = "placed"
    items: int | None = None

    type = EventType.ORDER


@dataclass(frozen=True, slots=True)
class Payment:
    event_id: str
    customer_id: str
    ts: float
    kind: str = "charge"
    amount: float | None = None
    currency: str | None = None
    status: str | None = None
    action: str | None = None
    plan: str | None = None

    type = EventType.PAYMENT


@dataclass(frozen=True, slots=True)
class SupportTicket:
    event_id: str
    customer_id: str
    ts: float
    ticket_id: str
    action: str
    priority: str | None = None
    category: str | None = None
    sentiment: float | None = None
    csat: int | None = None
    nps: int | None = None

    type = EventType.SUPPORT_TICKET


Event = Login | Order | Payment | SupportTicket
