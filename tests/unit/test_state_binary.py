"""State version 6 (binary, ``rules.codec``): every field comes back with its value and its type,
simulated customers are all written as version 6 and smaller than JSON, and a state whose
values do not fit its fixed sizes is written as JSON instead. Older versions: ``test_state_versions.py``,
``test_state_dedup_versions.py``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.pack_file import load_pack
from rules import codec
from rules.codec_json import encode_json
from rules.engine import CLOCK_KEY, Engine, EngineConfig
from rules.packed_lists import HASH_SIZE
from rules.records import AlertMemory, Cancellation, Order, Sentiment, Stamped, Ticket
from rules.state import CustomerState
from streams.parse import parse_line
from streams.simulate import SimConfig, generate
from tests.unit.helpers import seen_text

# the state's fields, read from its source: a compiled CustomerState has no __slots__ to list them
SOURCE = (Path(__file__).parents[2] / "rules" / "state.py").read_text()
# (but its memo: what the last evaluation found, never encoded)
FIELDS = [f for f in re.findall(r'"(\w+)",', SOURCE.split("__slots__ = (")[1].split(")")[0]) if f != "memo"]
T0 = 1_790_000_000


def fields(s: CustomerState) -> list[tuple[str, str, str]]:
    """Every field's value and type (an int and a float that are equal differ here)."""
    out = []
    for name in FIELDS:
        value = getattr(s, name)
        if name == "tickets":
            value = {h: (k.last, k.open, k.opened, k.priority, k.rank) for h, k in value.items()}
        out.append((name, repr(value), type(value).__name__))
    return out


def round_trip(s: CustomerState) -> bytes:
    data = s.encode()
    again = CustomerState.decode(data)
    assert fields(again) == fields(s)
    assert again.encode() == data
    assert fields(CustomerState.decode(encode_json(s))) == fields(s)
    return data


def test_simulated_customers_are_binary_smaller_and_mean_the_same() -> None:
    events = [parse_line(orjson.dumps(e)) for e in generate(SimConfig(customers=400, days=40, seed=11))]
    store: dict[str, bytes] = {}
    engine = Engine(load_pack(), EngineConfig(), store)
    for event in events:
        engine.process(event)
    engine.commit()
    states = {cid: data for cid, data in store.items() if cid != CLOCK_KEY}
    assert len(states) > 300
    v5 = sum(len(d) for d in states.values())
    v4 = 0
    for data in states.values():
        assert data[0] == codec.STATE_VERSION
        state = CustomerState.decode(data)
        assert round_trip(state) == data
        v4 += len(encode_json(state))
    assert v5 < 0.8 * v4
    decoded = [CustomerState.decode(d) for d in states.values()]
    assert any(s.tickets for s in decoded) and any(s.orders for s in decoded) and any(s.alert.tier for s in decoded)


def _customer() -> CustomerState:
    s = CustomerState()
    for i in range(20):
        s.add_login(T0 + i * 3_600, 0)
    s.add_order(T0 + 100, 12.5, 123_456_789, 0)
    s.add_order(T0 + 90_100, 30.0, 4_000_000_000, 0)
    s.add_payment_result(T0 + 200, True, 0)
    s.add_payment_result(T0 + 250, False, 0)
    s.add_chargeback(T0 + 300, 0)
    s.set_subscription(T0 + 350, "paused")
    s.ticket_action(T0 + 400, 77, "opened", "urgent", 0)
    s.add_sentiment(T0 + 400, -0.5, 0)
    s.set_survey(T0 + 500, 4, 9)
    s.cancel_order(T0 + 600, 99, 0)
    s.tier, s.rar, s.critical_since, s.lost, s.due = 3, 120.25, T0 + 700, True, T0 + 86_400
    s.alert = AlertMemory(3, (None, T0, T0 + 5.5, None), [58.0, "4,5"])
    s.history = [[T0, 2, 51.3, ["login_inactivity"]]]
    s.ack = [T0 + 100, T0 + 600_000, 2, "ana", "called them"]
    return s


def test_every_field_round_trips() -> None:
    s = _customer()
    assert round_trip(s)[0] == codec.STATE_VERSION
    assert round_trip(CustomerState())[0] == codec.STATE_VERSION
    s.due = T0 + 0.5  # a float due time stays a float, an int one an int
    assert round_trip(s)[0] == codec.STATE_VERSION


def test_money_that_is_not_whole_cents_is_kept_exactly() -> None:
    s = _customer()
    s.add_order(T0 + 200, 19.999, 5, 0)
    assert round_trip(s)[0] == codec.STATE_VERSION
    assert [o.amount for o in CustomerState.decode(s.encode()).orders] == [12.5, 19.999, 30.0]
    s.value_total = 1e12  # beyond 32-bit cents
    assert round_trip(s)[0] == codec.STATE_VERSION


def test_states_that_do_not_fit_are_written_as_json() -> None:
    late = _customer()
    late.add_login(4_400_000_000, 0)  # after 2106: beyond a 32-bit time
    weird = _customer()
    weird.subscription = Stamped(T0, "trial")  # a status the binary version has no code for
    many = _customer()
    many.seen = seen_text(range(300))  # more than 255
    whole = _customer()
    whole.rar = 3  # type: ignore[assignment]  # an int where a float is expected: kept as it is
    for s in (late, weird, many, whole):
        assert round_trip(s)[:1] == b"["


def _state(draw: Any) -> CustomerState:
    times = st.integers(0, 7_258_118_400)
    maybe = st.none() | times
    money = st.floats(0, 1e7, allow_nan=False) | st.integers(0, 10**6).map(lambda c: c / 100)
    s = CustomerState()
    s.seen = seen_text(draw(st.lists(st.integers(0, 2**32 - 1), max_size=32)))
    s.legacy_seen = draw(st.integers(0, len(s.seen) // HASH_SIZE))  # the oldest, BLAKE2b digests of a version 5 state
    s.logins.extend(sorted(draw(st.lists(times, max_size=40))))
    s.logins_total, s.last_login, s.first_login = draw(st.integers(0, 2**33)), draw(maybe), draw(maybe)
    orders = sorted(draw(st.lists(st.tuples(times, money, st.integers(0, 2**32 - 1)), max_size=20)))
    s.orders = [Order(*o) for o in orders]
    s.orders_total, s.value_total, s.first_order = draw(st.integers(0, 100)), draw(money), draw(maybe)
    s.cancelled = [Cancellation(*c) for c in draw(st.lists(st.tuples(st.integers(0, 99), times), max_size=3))]
    for name in ("failures", "chargebacks", "opened"):
        getattr(s, name).extend(sorted(draw(st.lists(times, max_size=5))))
    s.last_success = draw(maybe)
    s.subscription = draw(st.none() | st.builds(Stamped, times, st.sampled_from(["active", "paused", "cancelled"])))
    if draw(st.booleans()):
        s.tickets = {7: Ticket(draw(times), True, draw(maybe), draw(st.none() | st.just("urgent")), 1)}
    s.sentiments = [Sentiment(t, 0.25) for t in sorted(draw(st.lists(times, max_size=3)))]
    s.last_csat = draw(st.none() | st.builds(Stamped, times, st.integers(1, 5)))
    s.tier, s.rar = draw(st.integers(0, 3)), draw(st.floats(0, 1e9, allow_nan=False))
    s.due = draw(st.none() | times | st.floats(0, 7e9))
    s.critical_since, s.lost = draw(maybe), draw(st.booleans())
    if draw(st.booleans()):
        s.alert = AlertMemory(draw(st.integers(0, 3)), (None, draw(maybe), None, None))
    return s


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_state_round_trips_with_its_types(data: st.DataObject) -> None:
    s = _state(data.draw)
    encoded = round_trip(s)
    fits = all(t < 2**32 for t in [*s.logins, *s.failures, *s.chargebacks, *s.opened, *(o.time for o in s.orders)])
    fits = fits and all(x is None or x < 2**32 for x in (s.last_login, s.first_login, s.first_order, s.last_success))
    fits = fits and s.logins_total < 2**32 and (s.subscription is None or s.subscription.time < 2**32)
    fits = fits and (not isinstance(s.due, int) or s.due < 2**32) and (s.critical_since or 0) < 2**32
    assert (encoded[0] == codec.STATE_VERSION) == fits
