"""The JSON state encodings (versions 1 to 4, and 6): every field survives a round trip, times in any spacing,
and versions 1 to 4 still read. The binary versions 5 and 6: ``test_state_binary.py``."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from rules.codec_json import V2_FIELDS, encode_json
from rules.codec_json import pack_times as _pack_times
from rules.codec_json import unpack_times as _unpack_times
from rules.state import CustomerState

times = st.lists(st.integers(0, 7_258_118_400), max_size=300).map(sorted)  # 1970..2200


def _v4(s: CustomerState) -> list[object]:
    """The version 4 JSON of ``s`` (what version 6's JSON was before): without the count of BLAKE2b
    hashes, the history and acknowledgement left out while both are empty."""
    v6 = orjson.loads(encode_json(s))
    assert v6[0] == 6 and len(v6) == V2_FIELDS + 4
    history, ack = v6[V2_FIELDS + 1], v6[V2_FIELDS + 2]
    extras = [history, ack] if ack is not None else [history] if history else []
    return [4, *v6[1 : V2_FIELDS + 1], *extras]


@given(times)
def test_time_lists_round_trip_whatever_their_gaps(values: list[int]) -> None:
    assert list(_unpack_times(_pack_times(values))) == values


def test_packed_times_are_smaller_than_plain_deltas() -> None:
    logins = [1_790_000_000 + i * 86_000 for i in range(50)]
    assert len(orjson.dumps(_pack_times(logins))) < 0.6 * len(orjson.dumps(logins))


def _customer() -> CustomerState:
    s = CustomerState()
    for i in range(20):
        s.add_login(1_790_000_000 + i * 3_600, 0)
    s.add_order(1_790_000_100, 12.5, 123_456_789, 0)
    s.add_order(1_790_090_100, 30.0, 4_000_000_000, 0)
    s.add_payment_result(1_790_000_200, True, 0)
    s.add_chargeback(1_790_000_300, 0)
    s.ticket_action(1_790_000_400, 77, "opened", "urgent", 0)
    s.add_sentiment(1_790_000_400, -0.5, 0)
    return s


def test_a_customer_round_trips() -> None:
    s = _customer()
    again = CustomerState.decode(s.encode())
    for name in ("logins", "orders", "failures", "chargebacks", "opened", "tickets", "sentiments", "seen"):
        assert getattr(again, name) == getattr(s, name), name
    assert again.encode() == s.encode()
    assert encode_json(CustomerState.decode(encode_json(s))) == encode_json(s)


def test_version_1_states_still_decode() -> None:
    s = _customer()
    v2 = _v4(s)
    v1 = list(v2)
    v1[0] = 1
    for i in (2, 10, 12, 14):  # logins, failures, chargebacks, opened as plain deltas
        v1[i] = [b - a for a, b in zip([0, *_unpack_times(v2[i])], _unpack_times(v2[i]), strict=False)]
    order_times = _unpack_times(v2[5][0])
    v1[5] = [
        [b - a for a, b in zip([0, *order_times], order_times, strict=False)],
        v2[5][1],
        [o[2] for o in s.orders],
    ]
    old = CustomerState.decode(orjson.dumps(v1))
    assert old.logins == s.logins and old.orders == s.orders and old.opened == s.opened


def test_version_2_states_decode_without_the_first_login() -> None:
    s = _customer()
    s.add_login(1_789_000_000, 0)
    v3 = _v4(s)  # version 4 appends the history and the acknowledgement when there are any
    v3[0] = 3
    assert v3[-1] == 1_789_000_000 == CustomerState.decode(orjson.dumps(v3)).first_login
    v2 = [2, *v3[1:-1]]
    old = CustomerState.decode(orjson.dumps(v2))
    assert old.first_login is None and old.logins == s.logins and old.orders == s.orders


def test_version_3_states_decode_with_no_history_and_no_acknowledgement() -> None:
    s = _customer()
    s.history = [
        [1_790_000_000, 2, 51.3, ["login_inactivity", "order_gap"]],
        [1_790_000_100, "ack", "ana", 1_790_600_000, 2],
    ]
    s.ack = [1_790_000_100, 1_790_600_000, 2, "ana", "called them"]
    v4 = _v4(s)
    assert v4[0] == 4 and CustomerState.decode(orjson.dumps(v4)).ack == s.ack
    again = CustomerState.decode(s.encode())
    assert (again.history, again.ack) == (s.history, s.ack)
    v3 = [3, *v4[1:-2]]
    assert _v4(CustomerState.decode(orjson.dumps(v3))) == [4, *v3[1:]]  # nothing appended
    old = CustomerState.decode(orjson.dumps(v3))
    assert (old.history, old.ack) == ([], None) and old.logins == s.logins and old.first_login == s.first_login


def test_the_alert_memory_is_as_short_as_it_can_be_and_round_trips() -> None:
    from rules.records import AlertMemory

    s = _customer()
    assert orjson.loads(encode_json(s))[19] == [0]  # never alerted
    s.alert = AlertMemory(2, (None, 1_790_000_000, 1_790_000_500, None), [58.0, "4,5"])
    again = CustomerState.decode(s.encode())
    assert again.alert == s.alert and orjson.loads(encode_json(s))[19] == [
        2,
        [None, 1_790_000_000, 1_790_000_500, None],
        [58.0, "4,5"],
    ]
    s.alert = AlertMemory(0, (None, 1_790_000_000, None, None))
    assert CustomerState.decode(s.encode()).alert == s.alert
