"""Decoded states share their empty histories (``rules.codec``): adding to one gives that state its
own, and every other decoded state still reads empty ones."""

from __future__ import annotations

from rules.state import CustomerState

T0 = 1_790_000_000


def _blank_bytes() -> bytes:
    s = CustomerState()
    s.add_login(T0, 0)
    return s.encode()


def test_adding_to_a_shared_empty_history_changes_no_other_state() -> None:
    data = _blank_bytes()
    a, b = CustomerState.decode(data), CustomerState.decode(data)
    assert a.failures is b.failures and a.tickets is b.tickets  # shared while empty
    assert a.logins is not b.logins  # never shared (the seen ids are a text: immutable)
    a.add_payment_result(T0 + 1, True, 0)
    a.add_chargeback(T0 + 2, 0)
    a.ticket_action(T0 + 3, 7, "opened", "urgent", 0)
    a.add_sentiment(T0 + 4, -0.5, 0)
    a.cancel_order(T0 + 5, 99, 0)
    assert (len(a.failures), len(a.chargebacks), len(a.opened), len(a.tickets), len(a.sentiments)) == (1, 1, 1, 1, 1)
    assert len(a.cancelled) == 1
    for s in (b, CustomerState.decode(data)):
        assert not (s.failures or s.chargebacks or s.opened or s.tickets or s.sentiments or s.cancelled)
    assert CustomerState.decode(a.encode()).encode() == a.encode()
