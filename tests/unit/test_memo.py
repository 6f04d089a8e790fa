"""The memo (``rules.memo``) changes no value: a customer evaluated again and again between its
events, at times going forward and back, gets from ``rules.frame`` exactly what a state without
a memo gets (values, their types, and the due index's derived values)."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from rules.frame import frame_values
from rules.state import DAY, CustomerState

T0 = 1_790_000_000


def _evaluated(s: CustomerState, t: float, order_value: bool) -> tuple[bytes, Any]:
    values, derived = frame_values(s, t, 3.0, order_value)
    shown = [(type(v).__name__, v) for v in values]
    return orjson.dumps(shown), (derived.last_order, derived.gap, derived.exit, derived.urgent)


def _check(s: CustomerState, t: float, order_value: bool) -> None:
    memo = s.memo
    s.memo = None
    want = _evaluated(s, t, order_value)  # from scratch (with a memo of its own, dropped below)
    s.memo = memo
    assert _evaluated(s, t, order_value) == want


def _event(s: CustomerState, rng: random.Random, ts: int, clock: int) -> None:
    kind = rng.choices(range(8), weights=[12, 3, 1, 2, 1, 2, 1, 1])[0]
    if kind == 0:
        s.add_login(ts, clock)
    elif kind == 1:
        s.add_order(ts, round(rng.uniform(1, 300), 2), rng.randrange(1 << 32), clock)
    elif kind == 2 and s.orders:
        s.cancel_order(ts, rng.choice(s.orders).key, clock)
    elif kind == 3:
        s.add_payment_result(ts, rng.random() < 0.6, clock)
    elif kind == 4:
        s.add_chargeback(ts, clock)
    elif kind == 5:
        action = rng.choice(["opened", "updated", "reopened", "resolved"])
        s.ticket_action(ts, rng.randrange(5), action, rng.choice([None, "low", "urgent"]), clock)
    elif kind == 6:
        s.add_sentiment(ts, rng.uniform(-1, 1), clock)
    else:
        s.set_survey(ts, rng.randrange(1, 6), rng.randrange(0, 11))


@pytest.mark.parametrize("seed", range(60))
def test_the_memo_gives_the_values_computed_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    s = CustomerState()
    clock = T0
    spread = rng.choice([DAY, 7 * DAY, 40 * DAY])  # how far back an event may come (late ones move cursors)
    for _ in range(rng.randrange(20, 400)):
        clock += rng.choice([0, 60, 3600, DAY // 2, 2 * DAY, 9 * DAY])
        ts = clock - (rng.randrange(spread) if rng.random() < 0.2 else 0)
        _event(s, rng, ts, clock - spread)
        for _ in range(rng.randrange(0, 3)):  # evaluations between events: at the event, later (ticks), earlier
            t = rng.choice([ts, clock + rng.uniform(0, 40 * DAY), clock - rng.uniform(0, 50 * DAY), float(clock)])
            _check(s, t, rng.random() < 0.7)


def test_the_derived_values_are_the_memos_filled_at_each_evaluation() -> None:
    """One Derived per memo, filled anew by each evaluation: its exit follows the windows (and is
    None again once no held event is left to leave one), as a fresh memo gives it."""
    s = CustomerState()
    s.add_chargeback(T0, T0)
    _, first = frame_values(s, T0, 3.0)
    assert s.memo is not None and first is s.memo.derived
    assert first.exit == T0 + 90 * DAY
    for t in (T0 + DAY, T0 + 100 * DAY, T0 + 5.5, T0 + 100 * DAY):  # the exit moves, goes, comes back, goes
        _, derived = frame_values(s, t, 3.0)
        assert derived is first
        fresh = CustomerState()
        fresh.add_chargeback(T0, T0)
        want = frame_values(fresh, t, 3.0)[1]
        assert (derived.exit, derived.last_order, derived.gap, derived.urgent) == (
            want.exit,
            want.last_order,
            want.gap,
            want.urgent,
        )
    assert frame_values(s, T0 + 100 * DAY, 3.0)[1].exit is None
