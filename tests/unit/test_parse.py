"""Parsing and validation of input events: every rule of contract section 2, a reason for every rejection."""

from __future__ import annotations

import contextlib
from datetime import datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.errors import BadInput, Reason
from streams.events import EventType, Login, Order, Payment, SupportTicket
from streams.parse import Limits, event_to_dict, parse_event, parse_line, parse_ts
from streams.timefmt import utc_seconds

BASE = {"event_id": "e1", "customer_id": "c-42", "ts": "2026-11-22T14:16:30Z"}


def parse(etype: str, **fields: object) -> object:
    return parse_event(EventType(etype), orjson.dumps({**BASE, **fields}))


def reason_of(etype: str, raw: bytes, **kw: object) -> tuple[Reason, str]:
    with pytest.raises(BadInput) as info:
        parse_event(EventType(etype), raw, **kw)  # type: ignore[arg-type]
    return info.value.reason, info.value.detail


def test_login_defaults() -> None:
    event = parse("login")
    assert event == Login("e1", "c-42", 1795356990.0, success=True, channel="web", session_seconds=None)


def test_both_time_formats_and_offsets() -> None:
    assert parse_ts("2026-11-22T14:16:30Z") == 1795356990.0
    assert parse_ts("2026-11-22T15:16:30+01:00") == 1795356990.0
    assert parse_ts("2026-11-22T14:16:30.250Z") == 1795356990.25
    assert parse_ts(1795356990) == 1795356990.0
    assert parse_ts(1795356990.5) == 1795356990.5


@pytest.mark.parametrize("ts", ["2026-11-22T14:16:30", "yesterday", "2026-13-40T00:00:00Z", True, None, -5, 1e12, [1]])
def test_bad_timestamps_are_schema_errors(ts: object) -> None:
    reason, detail = reason_of("login", orjson.dumps({**BASE, "ts": ts}))
    assert reason is Reason.SCHEMA and '"ts"' in detail


def test_order_payment_ticket_fields() -> None:
    o = parse("order", order_id="o1", amount=12.5)
    assert isinstance(o, Order) and o.currency == "USD" and o.status == "placed"
    p = parse("payment", kind="renewal", amount=29, status="failed", currency="EUR")
    assert isinstance(p, Payment) and p.status == "failed" and p.currency == "EUR"
    s = parse("payment", kind="subscription", action="paused", plan="pro")
    assert isinstance(s, Payment) and s.action == "paused" and s.amount is None
    t = parse("support_ticket", ticket_id="t1", action="survey", nps=3, csat=2, sentiment=-0.5)
    assert isinstance(t, SupportTicket) and t.nps == 3 and t.csat == 2 and t.sentiment == -0.5


@pytest.mark.parametrize(
    ("etype", "fields", "field"),
    [
        ("order", {"order_id": "o1", "amount": "12.5"}, "amount"),
        ("order", {"order_id": "o1", "amount": -1}, "amount"),
        ("order", {"order_id": "o1"}, "amount"),
        ("order", {"order_id": "o1", "amount": 1, "currency": "usd"}, "currency"),
        ("order", {"order_id": "o1", "amount": 1, "status": "shipped"}, "status"),
        ("order", {"order_id": "o1", "amount": 1, "items": 1.5}, "items"),
        ("order", {"amount": 1}, "order_id"),
        ("login", {"success": "yes"}, "success"),
        ("login", {"channel": "fax"}, "channel"),
        ("login", {"session_seconds": -3}, "session_seconds"),
        ("payment", {"kind": "charge", "amount": 5}, "status"),
        ("payment", {"kind": "subscription"}, "action"),
        ("payment", {"kind": "gift", "amount": 5, "status": "succeeded"}, "kind"),
        ("support_ticket", {"ticket_id": "t", "action": "opened", "sentiment": 1.5}, "sentiment"),
        ("support_ticket", {"ticket_id": "t", "action": "survey", "nps": 11}, "nps"),
        ("support_ticket", {"ticket_id": "t", "action": "survey", "csat": 0}, "csat"),
        ("support_ticket", {"ticket_id": "t", "action": "closed"}, "action"),
        ("support_ticket", {"ticket_id": "t", "action": "opened", "priority": "p1"}, "priority"),
        ("login", {"event_id": ""}, "event_id"),
        ("login", {"customer_id": "x" * 129}, "customer_id"),
        ("login", {"event_id": 7}, "event_id"),
    ],
)
def test_schema_rejections_name_the_field(etype: str, fields: dict[str, object], field: str) -> None:
    reason, detail = reason_of(etype, orjson.dumps({**BASE, **fields}))
    assert reason is Reason.SCHEMA
    assert f'"{field}"' in detail


def test_quoted_numbers_say_so() -> None:
    _, detail = reason_of("order", orjson.dumps({**BASE, "order_id": "o", "amount": "12.5"}))
    assert "must not be quoted" in detail


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b'{"a": NaN}', b"\xff\xfe", b'{"amount": Infinity}'])
def test_invalid_json(raw: bytes) -> None:
    reason, _ = reason_of("login", raw)
    assert reason is Reason.INVALID_JSON


def test_key_must_match_customer_id() -> None:
    raw = orjson.dumps(BASE)
    assert parse_event(EventType.LOGIN, raw, key=b"c-42").customer_id == "c-42"
    reason, detail = reason_of("login", raw, key=b"c-43")
    assert reason is Reason.KEY_MISMATCH and "key" in detail


def test_too_large_is_checked_before_parsing() -> None:
    raw = orjson.dumps({**BASE, "padding": "x" * 70_000})
    reason, detail = reason_of("login", raw)
    assert reason is Reason.TOO_LARGE and "65536" in detail


def test_future_timestamps_against_the_worker_clock() -> None:
    raw = orjson.dumps(BASE)
    now = 1795356990.0 - 301
    reason, _ = reason_of("login", raw, now=now)
    assert reason is Reason.FUTURE_TIMESTAMP
    assert parse_event(EventType.LOGIN, raw, now=now + 2).event_id == "e1"
    assert parse_event(EventType.LOGIN, raw, now=now, limits=Limits(max_future_skew=600)).event_id == "e1"


def test_unknown_fields_are_ignored_and_round_trip() -> None:
    line = orjson.dumps({**BASE, "type": "order", "order_id": "o1", "amount": 3, "extra": {"x": 1}})
    event = parse_line(line)
    assert parse_line(orjson.dumps(event_to_dict(event))) == event


def test_line_needs_a_type() -> None:
    with pytest.raises(BadInput) as info:
        parse_line(orjson.dumps(BASE))
    assert info.value.reason is Reason.SCHEMA and '"type"' in info.value.detail


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    with contextlib.suppress(BadInput):
        parse_event(EventType.ORDER, raw, key=b"k")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "event_id": json_values,
            "customer_id": json_values,
            "ts": json_values,
            "kind": st.sampled_from(["charge", "subscription", "refund", 3]),
            "action": st.sampled_from(["opened", "paused", "survey", None]),
            "amount": json_values,
            "status": json_values,
            "ticket_id": json_values,
            "nps": json_values,
            "type": st.sampled_from(["login", "order", "payment", "support_ticket", "x"]),
        },
    )
)
def test_arbitrary_objects_give_an_event_or_bad_input(obj: dict[str, object]) -> None:
    try:
        parse_line(orjson.dumps(obj))
    except BadInput as exc:
        assert exc.detail


@given(
    st.integers(1, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from("Tt "),
    st.sampled_from("Zz"),
)
def test_the_fast_time_path_reads_what_datetime_reads(
    year: int, month: int, day: int, hour: int, minute: int, second: int, sep: str, zone: str
) -> None:
    """``YYYY-MM-DDTHH:MM:SSZ`` is read without datetime: the same number, or the same error."""
    text = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{zone}"
    try:
        want: float | str = datetime.fromisoformat(text[:-1] + "+00:00").timestamp()
    except ValueError:
        want = "invalid"
    fast = utc_seconds(text)
    assert fast == want or (fast == -1.0 and want == "invalid")
    try:
        got: float | str = parse_ts(text)
    except BadInput as exc:
        got = exc.detail
    if isinstance(want, float) and 0 <= want < 7258118400.0:
        assert got == want and type(got) is float
    else:
        assert isinstance(got, str)


@given(st.integers(0, 19), st.characters(max_codepoint=0x700))
def test_the_fast_time_path_rejects_what_datetime_rejects(i: int, char: str) -> None:
    text = "2026-09-02T01:00:00Z"
    text = text[:i] + char + text[i + 1 :]
    try:
        want = datetime.fromisoformat(text[:-1] + "+00:00").timestamp() if text[-1] in "Zz" else None
    except ValueError:
        want = None
    fast = utc_seconds(text)
    assert fast == -1.0 or fast == want  # -1.0: datetime decides (it accepts "01:00.00" too)
