"""How each event changes a customer's state (``rules.state``): the one place an event's fields
become state updates. The engine decides lateness and de-duplication before, and evaluates after."""

from __future__ import annotations

from rules.state import CustomerState, id_hash
from streams.events import Event, Login, Order, Payment, SupportTicket


def apply_event(state: CustomerState, event: Event, ref: int) -> None:
    """Apply ``event`` to ``state``; ``ref`` is the time the state's histories are trimmed against
    (the clock or watermark less the allowed lateness)."""
    its = int(event.ts)
    if isinstance(event, Login):
        if event.success:
            state.add_login(its, ref)
    elif isinstance(event, Order):
        if event.status == "placed":
            state.add_order(its, event.amount, id_hash(event.order_id), ref)
        else:
            state.cancel_order(its, id_hash(event.order_id), ref)
    elif isinstance(event, Payment):
        if event.kind in ("charge", "renewal"):
            state.add_payment_result(its, event.status == "failed", ref)
        elif event.kind == "chargeback":
            state.add_chargeback(its, ref)
        elif event.kind == "subscription" and event.action is not None:
            state.set_subscription(its, event.action)
    elif isinstance(event, SupportTicket):
        state.ticket_action(its, id_hash(event.ticket_id), event.action, event.priority, ref)
        if event.sentiment is not None:
            state.add_sentiment(its, event.sentiment, ref)
        if event.csat is not None or event.nps is not None:
            state.set_survey(its, event.csat, event.nps)
