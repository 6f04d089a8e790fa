"""Typed input events (contract section 2).

Times are float epoch seconds (event time). Optional fields are ``None`` when absent.
Events are immutable, slotted and cheap: the engine receives them after validation
(:mod:`streams.parse`), so every field here already satisfies the contract's rules. Each writes
its own ``__init__`` (``init=False``), setting its fields as a frozen dataclass's generated one
does: compiled (mypyc) it runs as native code, where the generated one would run interpreted
(half the cost of building an event, measured), and stores each field directly (``NATIVE``).
``tests/unit/test_events.py`` holds each ``__init__`` to the fields and defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

_set: Final = object.__setattr__  # how a frozen dataclass's __init__ sets its fields
# compiled (mypyc), a field is set by a store into the native object (the frozen check is the
# Python-level __setattr__, which native code does not go through): object.__setattr__ is a
# generic call, about four fifths of the cost of building an event (measured with callgrind)
NATIVE: Final = not __file__.endswith((".py", ".pyc"))


class EventType(StrEnum):
    """The ``"type"`` of a JSON Lines event and the input topic it belongs to."""

    LOGIN = "login"
    ORDER = "order"
    PAYMENT = "payment"
    SUPPORT_TICKET = "support_ticket"


@dataclass(frozen=True, slots=True, init=False)
class Login:
    event_id: str
    customer_id: str
    ts: float
    success: bool = True
    channel: str = "web"
    session_seconds: float | None = None

    def __init__(
        self,
        event_id: str,
        customer_id: str,
        ts: float,
        success: bool = True,
        channel: str = "web",
        session_seconds: float | None = None,
    ) -> None:
        if NATIVE:
            self.event_id = event_id  # type: ignore[misc]
            self.customer_id = customer_id  # type: ignore[misc]
            self.ts = ts  # type: ignore[misc]
            self.success = success  # type: ignore[misc]
            self.channel = channel  # type: ignore[misc]
            self.session_seconds = session_seconds  # type: ignore[misc]
            return
        _set(self, "event_id", event_id)
        _set(self, "customer_id", customer_id)
        _set(self, "ts", ts)
        _set(self, "success", success)
        _set(self, "channel", channel)
        _set(self, "session_seconds", session_seconds)

    type = EventType.LOGIN


@dataclass(frozen=True, slots=True, init=False)
class Order:
    event_id: str
    customer_id: str
    ts: float
    order_id: str
    amount: float
    currency: str
    status: str = "placed"
    items: int | None = None

    def __init__(
        self,
        event_id: str,
        customer_id: str,
        ts: float,
        order_id: str,
        amount: float,
        currency: str,
        status: str = "placed",
        items: int | None = None,
    ) -> None:
        if NATIVE:
            self.event_id = event_id  # type: ignore[misc]
            self.customer_id = customer_id  # type: ignore[misc]
            self.ts = ts  # type: ignore[misc]
            self.order_id = order_id  # type: ignore[misc]
            self.amount = amount  # type: ignore[misc]
            self.currency = currency  # type: ignore[misc]
            self.status = status  # type: ignore[misc]
            self.items = items  # type: ignore[misc]
            return
        _set(self, "event_id", event_id)
        _set(self, "customer_id", customer_id)
        _set(self, "ts", ts)
        _set(self, "order_id", order_id)
        _set(self, "amount", amount)
        _set(self, "currency", currency)
        _set(self, "status", status)
        _set(self, "items", items)

    type = EventType.ORDER


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(
        self,
        event_id: str,
        customer_id: str,
        ts: float,
        kind: str = "charge",
        amount: float | None = None,
        currency: str | None = None,
        status: str | None = None,
        action: str | None = None,
        plan: str | None = None,
    ) -> None:
        if NATIVE:
            self.event_id = event_id  # type: ignore[misc]
            self.customer_id = customer_id  # type: ignore[misc]
            self.ts = ts  # type: ignore[misc]
            self.kind = kind  # type: ignore[misc]
            self.amount = amount  # type: ignore[misc]
            self.currency = currency  # type: ignore[misc]
            self.status = status  # type: ignore[misc]
            self.action = action  # type: ignore[misc]
            self.plan = plan  # type: ignore[misc]
            return
        _set(self, "event_id", event_id)
        _set(self, "customer_id", customer_id)
        _set(self, "ts", ts)
        _set(self, "kind", kind)
        _set(self, "amount", amount)
        _set(self, "currency", currency)
        _set(self, "status", status)
        _set(self, "action", action)
        _set(self, "plan", plan)

    type = EventType.PAYMENT


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(
        self,
        event_id: str,
        customer_id: str,
        ts: float,
        ticket_id: str,
        action: str,
        priority: str | None = None,
        category: str | None = None,
        sentiment: float | None = None,
        csat: int | None = None,
        nps: int | None = None,
    ) -> None:
        if NATIVE:
            self.event_id = event_id  # type: ignore[misc]
            self.customer_id = customer_id  # type: ignore[misc]
            self.ts = ts  # type: ignore[misc]
            self.ticket_id = ticket_id  # type: ignore[misc]
            self.action = action  # type: ignore[misc]
            self.priority = priority  # type: ignore[misc]
            self.category = category  # type: ignore[misc]
            self.sentiment = sentiment  # type: ignore[misc]
            self.csat = csat  # type: ignore[misc]
            self.nps = nps  # type: ignore[misc]
            return
        _set(self, "event_id", event_id)
        _set(self, "customer_id", customer_id)
        _set(self, "ts", ts)
        _set(self, "ticket_id", ticket_id)
        _set(self, "action", action)
        _set(self, "priority", priority)
        _set(self, "category", category)
        _set(self, "sentiment", sentiment)
        _set(self, "csat", csat)
        _set(self, "nps", nps)

    type = EventType.SUPPORT_TICKET


Event = Login | Order | Payment | SupportTicket
