"""``rules.due.next_due``: the due time from the signals' shared values (the engine's way) equals
the one it computes on its own, value and type (an int window exit is stored as an int), and an
int window exit wins a tie with a threshold crossing at the same time."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.pack_file import load_pack
from rules.due import crossings_for, next_due
from rules.engine import Engine, EngineConfig
from rules.frame import frame_values
from rules.state import CustomerState
from tests.unit.helpers import DAY, T0, login, order, payment, ticket

PACK = load_pack()
CROSSINGS = crossings_for(PACK)
CONFIG = EngineConfig()


def _due(state: CustomerState, t: float, with_derived: bool) -> int | float | None:
    derived = frame_values(state, t, CONFIG.expected_lifespan_years)[1] if with_derived else None
    return next_due(
        state,
        t,
        CROSSINGS,
        cooldown=CONFIG.cooldown,
        lost_after=CONFIG.lost_after_days * DAY,
        tick=CONFIG.tick_seconds,
        derived=derived,
    )


def _state(events: list[Any]) -> CustomerState:
    engine = Engine(PACK, CONFIG)
    for event in sorted(events, key=lambda e: e.ts):
        engine.process(event)
    state = engine._state_of("c")
    assert state is not None
    return state


def test_an_int_window_exit_wins_a_tie_with_a_crossing() -> None:
    # a login at a, the last one at b = a + 21 days: at a + 30 days, login a leaves the 35-day
    # window at a + 35 days, the very time days_since_last_login reaches 14 (b + 14 days)
    a = T0
    state = _state([login("c", a, "l1"), login("c", a + 21 * DAY, "l2")])
    due = _due(state, a + 30 * DAY, with_derived=True)
    assert due == a + 35 * DAY and type(due) is int


KINDS = st.sampled_from(["login", "order", "failure", "chargeback", "opened", "urgent"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(KINDS, st.integers(0, 120 * 86400)), min_size=1, max_size=25), st.integers(0, 60 * 86400))
def test_the_due_time_from_the_signals_equals_the_one_computed_alone(drawn: list[tuple[str, int]], later: int) -> None:
    events: list[Any] = []
    for i, (kind, offset) in enumerate(drawn):
        ts = T0 + offset
        if kind == "login":
            events.append(login("c", ts, f"e{i}"))
        elif kind == "order":
            events.append(order("c", ts, f"o{i}", eid=f"e{i}"))
        elif kind in ("failure", "chargeback"):
            fields = {"kind": "charge", "status": "failed"} if kind == "failure" else {"kind": "chargeback"}
            events.append(payment("c", ts, eid=f"e{i}", amount=9.0, currency="USD", **fields))
        else:
            priority = "urgent" if kind == "urgent" else "normal"
            events.append(ticket("c", ts, f"t{i}", "opened", eid=f"e{i}", priority=priority, sentiment=-0.5))
    state = _state(events)
    t = max(e.ts for e in events) + later
    alone, shared = _due(state, t, with_derived=False), _due(state, t, with_derived=True)
    assert alone == shared and type(alone) is type(shared), (alone, shared)
