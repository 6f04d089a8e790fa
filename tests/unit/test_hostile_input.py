"""Hostile input, field by field: every field of every event type given values of every JSON type,
through the pure parser, replay's line reader and the worker's pipeline. Never a traceback: either
an event or a dead letter with a reason and a detail."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.metrics import Metrics
from agents.pack_file import load_pack
from agents.pipeline import Pipeline
from agents.replay import replay
from agents.settings import Settings
from streams.deadletter import MAX_KEPT_VALUE, dead_letter
from streams.errors import BadInput, Reason
from streams.events import Event
from streams.parse import parse_event, parse_line

GOOD: dict[str, dict[str, Any]] = {
    "login": {"success": True, "channel": "web", "session_seconds": 30},
    "order": {"order_id": "o1", "amount": 12.5, "currency": "EUR", "status": "placed", "items": 2},
    "payment": {"kind": "charge", "amount": 9.99, "currency": "EUR", "status": "failed"},
    "support_ticket": {
        "ticket_id": "t1",
        "action": "opened",
        "priority": "urgent",
        "category": "billing",
        "sentiment": -0.5,
        "csat": 2,
        "nps": 3,
    },
}
COMMON = {"event_id": "e1", "customer_id": "c-1", "ts": "2026-11-22T14:16:30Z"}
FIELDS = [(etype, name) for etype, fields in GOOD.items() for name in [*COMMON, *fields, "type"]]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=200),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


def _line(etype: str, field: str, value: Any) -> bytes:
    obj: dict[str, Any] = {"type": etype, **COMMON, **GOOD[etype], field: value}
    return json.dumps(obj).encode()  # the standard library writes integers of any size


def _parse_or_reason(parse: Any, *args: Any, **kw: Any) -> Event | BadInput:
    try:
        return parse(*args, **kw)  # type: ignore[no-any-return]
    except BadInput as exc:
        assert exc.reason in set(Reason) and exc.detail, exc
        return exc


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FIELDS), json_values)
def test_every_field_with_every_json_type_parses_or_gives_a_reason(where: tuple[str, str], value: Any) -> None:
    etype, field = where
    raw = _line(etype, field, value)
    result = _parse_or_reason(parse_line, raw)
    if field != "type":
        body = json.loads(raw)
        body.pop("type")
        _parse_or_reason(parse_event, etype, json.dumps(body).encode(), key=b"c-1", now=1.9e9)
    if isinstance(result, Event):  # whatever was accepted is a value the field can mean
        for name in ("amount", "session_seconds", "sentiment", "items", "csat", "nps"):
            v = getattr(result, name, None)
            assert v is None or abs(v) <= 2**53


def test_integers_beyond_meaning_are_refused_with_a_reason() -> None:
    raw = _line("order", "amount", 123456789012345678901234567890)
    result = _parse_or_reason(parse_line, raw)
    assert isinstance(result, BadInput) and result.reason is Reason.SCHEMA
    assert "amount" in result.detail and "beyond" in result.detail


def _pipeline() -> Pipeline:
    s = Settings(clock="wall")  # type: ignore[call-arg]
    return Pipeline(s, load_pack(), Metrics(), lambda _p: {})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELDS), json_values)
def test_the_worker_pipeline_never_raises_on_hostile_fields(where: tuple[str, str], value: Any) -> None:
    etype, field = where
    pipeline = _pipeline()
    topic = pipeline.settings.input_topics["support_ticket" if etype == "support_ticket" else etype]
    body = json.loads(_line(etype, field, value))
    body.pop("type")
    raw = json.dumps(body).encode()
    out = pipeline.handle(topic, 0, 7, b"c-1", raw, 1.9e9)
    if out.dead_letter is not None:
        assert out.dead_letter["reason"] and out.dead_letter["detail"]
        assert base64.b64decode(out.dead_letter["value_base64"]) == raw


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), json_values), min_size=1, max_size=20))
def test_replay_reports_every_hostile_line_and_never_stops(lines: list[tuple[tuple[str, str], Any]]) -> None:
    tmp = Path(__import__("tempfile").mkdtemp())
    path = tmp / "events.jsonl"
    raw = [_line(etype, field, value) for (etype, field), value in lines]
    path.write_bytes(b"\n".join(raw) + b"\n")
    result = replay([path], load_pack(), io.BytesIO())
    assert result.events + len(result.bad_lines) == len(raw)
    for bad in result.bad_lines:
        assert bad.file == str(path) and bad.line >= 1 and bad.reason and bad.detail


def test_a_huge_message_gives_a_dead_letter_that_fits_the_producer() -> None:
    value = b'{"pad": "' + b"x" * 900_000 + b'"}'
    key = b"k" * 10_000
    d = dead_letter(
        value=value,
        key=key,
        topic="logins",
        partition=0,
        offset=1,
        reason=Reason.TOO_LARGE,
        detail="big",
        received_at=0,
    )
    assert d["value_truncated"] is True and d["value_length"] == len(value)
    assert d["value_sha256"] == hashlib.sha256(value).hexdigest()
    assert base64.b64decode(d["value_base64"]) == value[:MAX_KEPT_VALUE]
    assert len(orjson.dumps(d)) < 1_000_000  # the producer's default request limit is 1 MiB


def test_a_small_message_is_kept_whole() -> None:
    d = dead_letter(
        value=b"{}", key=b"c-1", topic="logins", partition=0, offset=1, reason=Reason.SCHEMA, detail="x", received_at=0
    )
    assert d["value_truncated"] is False and base64.b64decode(d["value_base64"]) == b"{}"
