"""Parsing and validation of input events (contract sections 2 and 7).

``parse_event`` turns a Kafka message value into a typed event or raises
:class:`~streams.errors.BadInput` with a machine-readable reason and a detail that names the
field, what was wrong and what was expected. ``parse_line`` does the same for the JSON Lines
form used by ``churnwatch replay`` (with a ``"type"`` field). ``event_to_dict`` is the inverse.

Choices where the contract is silent:
- ``amount`` is required for orders and for money payments (charge, renewal, refund,
  chargeback); ``status`` is required for money payments; ``currency`` defaults.
- Epoch-second timestamps must lie between 1970 and 2200; RFC 3339 strings must carry an offset.
- ``NaN``/``Infinity`` literals are not JSON: ``invalid_json``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from streams.errors import BadInput, Reason
from streams.events import Event, EventType, Login, Order, Payment, SupportTicket
from streams.timefmt import format_ts, utc_seconds

_MAX_EPOCH: Final = 7258118400.0  # 2200-01-01
# this module runs compiled (mypyc): times are read by utc_seconds (as Python, datetime is the faster)
NATIVE: Final = not __file__.endswith((".py", ".pyc"))
MAX_EXACT: Final = 2**53  # numbers beyond it are not exact in a double: no amount, count or duration means that much

CHANNELS: Final[tuple[str, ...]] = ("web", "mobile", "api", "other")
ORDER_STATUSES: Final[tuple[str, ...]] = ("placed", "cancelled", "refunded")
MONEY_KINDS: Final[tuple[str, ...]] = ("renewal", "charge", "refund", "chargeback")
PAYMENT_KINDS: Final[tuple[str, ...]] = ("renewal", "subscription", "charge", "refund", "chargeback")
PAYMENT_STATUSES: Final[tuple[str, ...]] = ("succeeded", "failed")
SUBSCRIPTION_ACTIONS: Final[tuple[str, ...]] = ("started", "upgraded", "downgraded", "paused", "resumed", "cancelled")
TICKET_ACTIONS: Final[tuple[str, ...]] = ("opened", "resolved", "survey", "updated", "reopened")
PRIORITIES: Final[tuple[str, ...]] = ("normal", "high", "low", "urgent")
_intern: Final = sys.intern  # a static of the compiled module: no lookup of sys's attribute per event
_loads: Final = orjson.loads  # (the same for orjson's)
_ABSENT: Final = object()  # a field not in the object (None: there, and null)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied while parsing; the worker builds them from its settings."""

    max_event_bytes: int = 64 * 1024
    max_future_skew: float = 300.0
    default_currency: str = "USD"


DEFAULT_LIMITS = Limits()


def _schema(detail: str) -> BadInput:
    return BadInput(Reason.SCHEMA, detail)


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _id(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    if value is None:
        raise _schema(f'field "{field}" is required: a string of 1..128 characters')
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        got = f"{_kind(value)} {_show(value)}" if not isinstance(value, str) else f"a string of {len(value)} characters"
        raise _schema(f'field "{field}": expected a string of 1..128 characters, got {got}')
    return value


def _opt_str(obj: dict[str, Any], field: str, max_len: int = 256) -> str | None:
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise _schema(f'field "{field}": expected a string of at most {max_len} characters, got {_kind(value)}')
    return value


def _enum(obj: dict[str, Any], field: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = obj.get(field)
    if value is None:
        return default
    if isinstance(value, str):  # the allowed ones in turn, the common first (compiled: cheaper than a set's hash)
        for name in allowed:
            if value == name:
                return name  # (the allowed one itself: a str, as str(value) was)
    raise _schema(f'field "{field}": expected one of {", ".join(sorted(allowed))}, got {_show(value)}')


def _required_enum(obj: dict[str, Any], field: str, allowed: tuple[str, ...], context: str) -> str:
    value = _enum(obj, field, allowed, None)
    if value is None:
        raise _schema(f'field "{field}" is required {context}: one of {", ".join(sorted(allowed))}')
    return value


def _number(
    obj: dict[str, Any], field: str, *, lo: float | None = None, hi: float | None = None, required: bool = False
) -> float | None:
    value = obj.get(field)
    if value is None:
        if required:
            raise _schema(f'field "{field}" is required: a number{_range(lo, hi)}')
        return None
    if isinstance(value, bool) or not _numeric(value):
        hint = " (numbers must not be quoted)" if isinstance(value, str) else ""
        raise _schema(f'field "{field}": expected a number{_range(lo, hi)}, got {_kind(value)} {_show(value)}{hint}')
    number = as_float(value)
    if not _finite(number):
        raise _schema(f'field "{field}": expected a finite number, got {value}')
    if abs(number) > MAX_EXACT:
        raise _schema(f'field "{field}": {_show(value)} is beyond what the field can mean (at most {MAX_EXACT})')
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise _schema(f'field "{field}": expected a number{_range(lo, hi)}, got {_show(value)}')
    return value if type(value) is float else number  # (a float as it is: compiled, no new box)


def _integer(obj: dict[str, Any], field: str, lo: int, hi: int | None = None) -> int | None:
    value = obj.get(field)
    if value is None:
        return None
    if _numeric(value) and not isinstance(value, bool) and abs(value) > MAX_EXACT:
        raise _schema(f'field "{field}": {_show(value)} is beyond what the field can mean (at most {MAX_EXACT})')
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        hint = " (numbers must not be quoted)" if isinstance(value, str) else ""
        expected = f"an integer {lo}..{hi}" if hi is not None else f"an integer >= {lo}"
        raise _schema(f'field "{field}": expected {expected}, got {_kind(value)} {_show(value)}{hint}')
    return value


def _numeric(value: Any) -> bool:
    """``isinstance(value, int | float)`` (a bool is an int: callers rule it out), as two checks:
    compiled, ``int | float`` builds a union object at every call and checks it generically."""
    return isinstance(value, float) or isinstance(value, int)  # noqa: SIM101 (as two checks: see above)


def as_float(value: object) -> float:
    """``float(value)`` of a number (an int or a float: an event's, or a due time as a state holds
    it, ``rules.due_index``). Compiled, a native conversion: taken as an object, an int converts as
    a machine integer (a float parameter would take it through ``PyLong_AsDouble``, several times
    slower for a time-sized int)."""
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return float(value)
    raise TypeError(f"not a number: {value!r}")


def _finite(number: float) -> bool:
    """``math.isfinite`` by arithmetic (compiled: no call through the math module): an infinity
    or a NaN less itself is a NaN."""
    return number - number == 0.0


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f" >= {lo:g}"
    return ""


def _bool(obj: dict[str, Any], field: str, default: bool) -> bool:
    value = obj.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _schema(f'field "{field}": expected true or false, got {_kind(value)} {_show(value)}')
    return value


def _currency(obj: dict[str, Any], limits: Limits) -> str:
    value = obj.get("currency")
    if value is None:
        return limits.default_currency
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        raise _schema(f'field "currency": expected a 3-letter upper-case code such as "EUR", got {_show(value)}')
    return value


def parse_ts(value: Any) -> float:
    """Event time in epoch seconds from an RFC 3339 string with offset or a number of epoch seconds."""
    if isinstance(value, bool) or value is None:
        raise _schema(f'field "ts": expected an RFC 3339 time with offset or epoch seconds, got {_kind(value)}')
    if _numeric(value):
        number = as_float(value)
        if not (_finite(number) and 0 <= number < _MAX_EPOCH):
            raise _schema(f'field "ts": epoch seconds out of range (1970..2200), got {_show(value)}')
        return number
    if not isinstance(value, str):
        raise _schema(f'field "ts": expected an RFC 3339 time with offset or epoch seconds, got {_kind(value)}')
    text = value
    if NATIVE:  # the common form first, read without datetime (the same number; the range is checked below)
        seconds = utc_seconds(text)
        if seconds >= 0:  # (its separator is one of the three below)
            return _in_range(seconds, value)
    if len(text) < 20 or text[10] not in "Tt ":
        raise _schema(f'field "ts": expected an RFC 3339 time like "2026-11-22T14:16:30Z", got {_show(value)}')
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _schema(f'field "ts": not a valid RFC 3339 time, got {_show(value)}') from None
    if parsed.tzinfo is None:
        raise _schema(f'field "ts": the time needs an offset ("Z" or "+hh:mm"), got {_show(value)}')
    return _in_range(parsed.timestamp(), value)


def _in_range(number: float, value: str) -> float:
    if not 0 <= number < _MAX_EPOCH:
        raise _schema(f'field "ts": time out of range (1970..2200), got {_show(value)}')
    return number


def _login(obj: dict[str, Any], eid: str, cid: str, ts: float, limits: Limits) -> Login:
    return Login(
        event_id=eid,
        customer_id=cid,
        ts=ts,
        success=_bool(obj, "success", True),
        channel=_enum(obj, "channel", CHANNELS, "web") or "web",
        session_seconds=_number(obj, "session_seconds", lo=0.0),
    )


def _order(obj: dict[str, Any], eid: str, cid: str, ts: float, limits: Limits) -> Order:
    return Order(
        event_id=eid,
        customer_id=cid,
        ts=ts,
        order_id=_id(obj, "order_id"),
        amount=_number(obj, "amount", lo=0.0, required=True) or 0.0,
        currency=_currency(obj, limits),
        status=_enum(obj, "status", ORDER_STATUSES, "placed") or "placed",
        items=_integer(obj, "items", 0),
    )


def _payment(obj: dict[str, Any], eid: str, cid: str, ts: float, limits: Limits) -> Payment:
    kind = _enum(obj, "kind", PAYMENT_KINDS, "charge") or "charge"
    if kind == "subscription":
        return Payment(
            event_id=eid,
            customer_id=cid,
            ts=ts,
            kind=kind,
            action=_required_enum(obj, "action", SUBSCRIPTION_ACTIONS, 'for kind "subscription"'),
            plan=_opt_str(obj, "plan"),
        )
    return Payment(
        event_id=eid,
        customer_id=cid,
        ts=ts,
        kind=kind,
        amount=_number(obj, "amount", lo=0.0, required=True),
        currency=_currency(obj, limits),
        status=_required_enum(obj, "status", PAYMENT_STATUSES, f'for kind "{kind}"'),
    )


def _ticket(obj: dict[str, Any], eid: str, cid: str, ts: float, limits: Limits) -> SupportTicket:
    return SupportTicket(
        event_id=eid,
        customer_id=cid,
        ts=ts,
        ticket_id=_id(obj, "ticket_id"),
        action=_required_enum(obj, "action", TICKET_ACTIONS, "for a support ticket event"),
        priority=_enum(obj, "priority", PRIORITIES, None),
        category=_opt_str(obj, "category"),
        sentiment=_number(obj, "sentiment", lo=-1.0, hi=1.0),
        csat=_integer(obj, "csat", 1, 5),
        nps=_integer(obj, "nps", 0, 10),
    )


_BUILDERS: dict[str, Callable[[dict[str, Any], str, str, float, Limits], Event]] = {
    EventType.LOGIN: _login,
    EventType.ORDER: _order,
    EventType.PAYMENT: _payment,
    EventType.SUPPORT_TICKET: _ticket,
}


def parse_dict(
    etype: EventType | str,
    obj: Any,
    *,
    key: bytes | None = None,
    now: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Event:
    """Validate an already decoded JSON value as an event of ``etype``."""
    if not isinstance(obj, dict):
        raise BadInput(Reason.INVALID_JSON, f"expected a JSON object, got {_kind(obj)}")
    eid = _id(obj, "event_id")
    # one string per customer, however many events name it: the store's key, the due index and
    # the decoded cache all keep the id, and without this each kept the copy of another event
    cid = _intern(_id(obj, "customer_id"))
    if key is not None and key != b"":
        try:
            key_text = key.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(
                Reason.KEY_MISMATCH, "the message key is not valid UTF-8; it must be the customer_id"
            ) from None
        if key_text != cid:
            raise BadInput(
                Reason.KEY_MISMATCH,
                "customer_id differs from the message key; produce with key = customer_id (UTF-8)",
            )
    value = obj.get("ts", _ABSENT)  # (one lookup: a null "ts" is there, and told apart)
    if value is _ABSENT:
        raise _schema('field "ts" is required: an RFC 3339 time with offset or epoch seconds')
    ts = parse_ts(value)
    if now is not None and ts > now + limits.max_future_skew:
        raise BadInput(
            Reason.FUTURE_TIMESTAMP,
            f"ts {format_ts(ts)} is {ts - now:.0f} s ahead of the worker clock "
            f"(limit {limits.max_future_skew:g} s); check the producer's clock",
        )
    # direct calls for the four types (the compiled core calls a function from a dict through Python),
    # the type compared as a str (an EventType is one; compiled, the union compares as objects)
    name: str = etype
    if name == "login":
        return _login(obj, eid, cid, ts, limits)
    if name == "order":
        return _order(obj, eid, cid, ts, limits)
    if name == "payment":
        return _payment(obj, eid, cid, ts, limits)
    if name == "support_ticket":
        return _ticket(obj, eid, cid, ts, limits)
    return _BUILDERS[etype](obj, eid, cid, ts, limits)  # a KeyError, as ever


def _decode(value: bytes | str, limits: Limits) -> Any:
    if len(value) > limits.max_event_bytes:
        raise BadInput(
            Reason.TOO_LARGE,
            f"message of {len(value)} bytes exceeds CHURNWATCH_MAX_EVENT_BYTES={limits.max_event_bytes}",
        )
    try:
        return _loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadInput(Reason.INVALID_JSON, f"not valid UTF-8 JSON: {exc}") from None


def parse_event(
    etype: EventType | str,
    value: bytes,
    *,
    key: bytes | None = None,
    now: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Event:
    """Parse one Kafka message value of an input topic; raises :class:`BadInput`."""
    return parse_dict(etype, _decode(value, limits), key=key, now=now, limits=limits)


def parse_line(line: bytes | str, *, now: float | None = None, limits: Limits = DEFAULT_LIMITS) -> Event:
    """Parse one JSON Lines event carrying a ``"type"`` (login, order, payment, support_ticket)."""
    obj = _decode(line, limits)
    if not isinstance(obj, dict):
        raise BadInput(Reason.INVALID_JSON, f"expected a JSON object, got {_kind(obj)}")
    etype = obj.get("type")
    # the four names compared as strings (compiled: no hash of the new string, no lookup in _BUILDERS)
    if isinstance(etype, str) and (
        etype == "login" or etype == "order" or etype == "payment" or etype == "support_ticket"
    ):
        return parse_dict(etype, obj, now=now, limits=limits)
    raise _schema(f'field "type": expected one of login, order, payment, support_ticket, got {_show(etype)}')


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON-ready form of an event, with ``"type"`` and ``ts`` as RFC 3339 UTC."""
    out: dict[str, Any] = {"type": event.type.value}
    for name in event.__slots__:
        value = getattr(event, name)
        if value is None:
            continue
        out[name] = format_ts(value) if name == "ts" else value
    return out
