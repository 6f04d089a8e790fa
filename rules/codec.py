"""The compact, versioned encoding of a customer's state (``rules.state.CustomerState``).

Version 5 (written): binary, little-endian. A 10-byte head (the version, a bit set of the parts
present, the lengths of the lists) and the fixed-size fields of the parts present, in one
``struct``; then the id hashes, the array's own bytes; then, in one ``struct`` of 32-bit words,
the time lists and the orders' times, id hashes and amounts. Money is in whole cents (as doubles
when an amount is not a whole number of cents), the revenue at risk and a float due time are
doubles. The rarely filled records (cancellations, tickets, sentiments, surveys, the alert
memory once alerted, the history, the acknowledgement) follow as version 4's JSON, only when one
of them is.

A state whose values do not fit (a time after 2106, more than 255 of a list, a subscription
status it does not know, ...) is written as version 4 instead; versions 1 to 4 still decode
(``rules.codec_json``). The first byte tells them apart (``[`` for JSON).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from rules.codec_json import (
    cancellations,
    decode_json,
    encode_json,
    memory_json,
    sentiments_of,
    stamped,
    tickets_json,
    tickets_of,
)
from rules.records import NEW_MEMORY, AlertMemory, Order, Stamped

if TYPE_CHECKING:
    from rules.state import CustomerState

STATE_VERSION: Final = 5
S = TypeVar("S", bound="CustomerState")

# the parts (bits of the head's second field): which optional fields follow
LAST_LOGIN: Final = 1
FIRST_LOGIN: Final = 2
ORDERS: Final = 4  # orders_total, value_total (absent: no order ever counted)
FIRST_ORDER: Final = 8
MONEY_DOUBLES: Final = 16  # value_total and the amounts as doubles, not whole cents
LAST_SUCCESS: Final = 32
SUBSCRIPTION: Final = 64
RAR: Final = 128  # a revenue at risk other than 0.0
DUE_INT: Final = 256
DUE_FLOAT: Final = 512
CRITICAL: Final = 1024
LOST: Final = 2048
REST: Final = 4096  # the JSON of the rarely filled records ends the bytes
# the head: version, parts, the lengths of logins, seen, orders, failures, chargebacks, opened;
# then the tier and logins_total, then the optional fields of the parts present, in this order
HEAD: Final = "<BHHBBBBBBI"
OPTIONAL: Final = (
    (LAST_LOGIN, "I"),
    (FIRST_LOGIN, "I"),
    (ORDERS, "II"),  # orders_total, value_total in cents (a double with MONEY_DOUBLES)
    (FIRST_ORDER, "I"),
    (LAST_SUCCESS, "I"),
    (SUBSCRIPTION, "IB"),  # time, status code
    (RAR, "d"),
    (DUE_INT, "I"),
    (DUE_FLOAT, "d"),
    (CRITICAL, "I"),
)
STATUSES: Final = ("active", "paused", "downgraded", "cancelled")  # rules.state.SUBSCRIPTION_STATUS's values
STATUS_CODES: Final = {status: code for code, status in enumerate(STATUSES)}

BIG_ENDIAN: Final = sys.byteorder == "big"
# copied for an empty list, and named tuples made by tuple's own constructor: twice as fast as
# array("q") and a named tuple's Python __new__
_NO_TIMES: Final = array("q")
_NO_HASHES: Final = array("I")
_new = tuple.__new__

_heads: dict[int, struct.Struct] = {}  # the head and fixed fields, by parts
_words: dict[int, struct.Struct] = {}  # n unsigned 32-bit words
_doubles: dict[int, struct.Struct] = {}


class Unfit(ValueError):
    """A value version 5 cannot hold."""


def _head(parts: int) -> struct.Struct:
    head = _heads.get(parts)
    if head is None:
        money = "Id" if parts & MONEY_DOUBLES else "II"
        fmt = "".join((money if bit == ORDERS else f) for bit, f in OPTIONAL if parts & bit)
        head = _heads[parts] = struct.Struct(HEAD + fmt)
    return head


def _run(n: int, kind: str = "I") -> struct.Struct:
    cache = _words if kind == "I" else _doubles
    run = cache.get(n)
    if run is None:
        run = cache[n] = struct.Struct(f"<{n}{kind}")
    return run


# -- encode ---------------------------------------------------------------------------------


def encode(s: CustomerState) -> bytes:
    """Version 5, or version 4 for a state that does not fit it."""
    try:
        return _encode_v5(s)
    except (struct.error, OverflowError, ValueError, TypeError):
        return encode_json(s)


def _raw(values: array[int], kind: str) -> bytes:
    """An array's machine words, little-endian."""
    if values.typecode != kind:
        raise Unfit(f"an array of {values.typecode!r}, not {kind!r}")
    if not values:
        return b""
    if BIG_ENDIAN:
        values = array(kind, values)
        values.byteswap()
    return values.tobytes()


def _hashes(data: bytes, start: int, end: int) -> array[int]:
    """The id hashes from the bytes of their array."""
    if start == end:
        return _NO_HASHES.__copy__()
    out = array("I", data[start:end])
    if BIG_ENDIAN:
        out.byteswap()
    return out


def _plain_zero(x: float) -> bool:
    return type(x) is float and x == 0.0 and math.copysign(1.0, x) > 0


def _cents(values: list[float]) -> list[int] | None:
    """The amounts in whole cents, None when one is not exactly a number of cents."""
    out: list[int] = []
    for x in values:
        if type(x) is not float:
            raise Unfit(f"{x!r} is not a float")
        c = round(x * 100)
        if c < 0 or c > 0xFFFFFFFF or c / 100 != x or (c == 0 and math.copysign(1.0, x) < 0):
            return None
        out.append(c)
    return out


def _add_orders(fixed: list[Any], words: list[int], s: CustomerState) -> tuple[int, list[float]]:
    """The orders part; returns its bits of the parts and the amounts to write as doubles."""
    orders = s.orders
    if not orders and not s.orders_total and s.first_order is None and _plain_zero(s.value_total):
        return 0, []
    money = [o.amount for o in orders]
    money.append(s.value_total)
    cents = _cents(money)
    parts = ORDERS if cents is not None else ORDERS | MONEY_DOUBLES
    fixed.append(s.orders_total)
    fixed.append(money.pop() if cents is None else cents.pop())
    if s.first_order is not None:
        parts |= FIRST_ORDER
        fixed.append(s.first_order)
    words.extend([o.time for o in orders])
    words.extend([o.key for o in orders])
    if cents is None:
        return parts, money
    words.extend(cents)
    return parts, []


def _add_evaluation(fixed: list[Any], s: CustomerState) -> int:
    """The subscription and the evaluation's results; returns their bits of the parts."""
    parts = 0
    sub = s.subscription
    if sub is not None:
        parts |= SUBSCRIPTION
        code = STATUS_CODES.get(sub.value)
        if code is None:
            raise Unfit(f"subscription status {sub.value!r}")
        fixed.append(sub.time)
        fixed.append(code)
    rar = s.rar
    if not _plain_zero(rar):
        if type(rar) is not float:
            raise Unfit(f"revenue at risk {rar!r}")
        parts |= RAR
        fixed.append(rar)
    due = s.due
    if due is not None:
        parts |= DUE_FLOAT if type(due) is float else DUE_INT
        fixed.append(due)
    if s.critical_since is not None:
        parts |= CRITICAL
        fixed.append(s.critical_since)
    if s.lost:
        parts |= LOST
    return parts


def _words_of(s: CustomerState) -> list[int]:
    """The time lists' times, in one list."""
    words: list[int] = s.logins.tolist()
    if s.failures:
        words += s.failures.tolist()
    if s.chargebacks:
        words += s.chargebacks.tolist()
    if s.opened:
        words += s.opened.tolist()
    return words


def _encode_v5(s: CustomerState) -> bytes:
    orders = len(s.orders)
    lengths = [len(s.logins), len(s.seen), orders, len(s.failures), len(s.chargebacks), len(s.opened)]
    fixed: list[Any] = [STATE_VERSION, 0, *lengths, s.tier, s.logins_total]
    parts = 0
    if s.last_login is not None:
        parts |= LAST_LOGIN
        fixed.append(s.last_login)
    if s.first_login is not None:
        parts |= FIRST_LOGIN
        fixed.append(s.first_login)
    words = _words_of(s)
    order_parts, doubles = _add_orders(fixed, words, s)
    parts |= order_parts
    if s.last_success is not None:
        parts |= LAST_SUCCESS
        fixed.append(s.last_success)
    parts |= _add_evaluation(fixed, s)
    rest = _rest(s)
    if rest:
        parts |= REST
    fixed[1] = parts
    out = [_head(parts).pack(*fixed), _raw(s.seen, "I"), _run(len(words)).pack(*words)]
    if doubles:
        out.append(_run(orders, "d").pack(*doubles))
    out.append(rest)
    return b"".join(out)


def _plain(value: Any) -> Any:
    """Named tuples (records, the alert memory) as JSON arrays."""
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _rest(s: CustomerState) -> bytes:
    """The rarely filled records as JSON; empty when all are empty (most customers)."""
    empty = not (
        s.cancelled
        or s.tickets
        or s.sentiments
        or s.last_csat is not None
        or s.last_nps is not None
        or s.history
        or s.ack is not None
    )
    if empty and s.alert is NEW_MEMORY:
        return b""
    memory = memory_json(s.alert)
    if empty and memory == [0]:
        return b""
    rest = [s.cancelled, tickets_json(s.tickets), s.sentiments, s.last_csat, s.last_nps, memory, s.history, s.ack]
    return orjson.dumps(rest, default=_plain)


# -- decode ---------------------------------------------------------------------------------


def decode(data: bytes, cls: type[S]) -> S:
    if data[0] != STATE_VERSION:
        return decode_json(data, cls)
    parts = data[1] | data[2] << 8
    head = _head(parts)
    v: tuple[Any, ...] = head.unpack_from(data)
    n_logins: int = v[2]
    n_seen: int = v[3]
    n_orders: int = v[4]
    n_failures: int = v[5]
    n_chargebacks: int = v[6]
    n_opened: int = v[7]
    end = head.size + 4 * n_seen
    s = cls(True)
    s.seen = _hashes(data, head.size, end)
    count = n_logins + n_failures + n_chargebacks + n_opened + n_orders * (2 if parts & MONEY_DOUBLES else 3)
    words: tuple[int, ...] = _run(count).unpack_from(data, end)
    end += 4 * count
    s.logins = _times(words, 0, n_logins)
    at = n_logins + n_failures
    s.failures = _times(words, n_logins, at)
    s.chargebacks = _times(words, at, at + n_chargebacks)
    at += n_chargebacks
    s.opened = _times(words, at, at + n_opened)
    at += n_opened
    s.tier = v[8]
    s.logins_total = v[9]
    i = _decode_fixed(s, v, parts)
    if n_orders:
        amounts: Sequence[float]
        if parts & MONEY_DOUBLES:
            amounts = _run(n_orders, "d").unpack_from(data, end)
            end += 8 * n_orders
        else:
            amounts = [c / 100 for c in words[at + 2 * n_orders : at + 3 * n_orders]]
        keys = words[at + n_orders : at + 2 * n_orders]
        times = words[at : at + n_orders]
        s.orders = [_new(Order, (t, a, k)) for t, a, k in zip(times, amounts, keys, strict=True)]
    else:
        s.orders = []
    _decode_evaluation(s, v, i, parts)
    _decode_rest(s, orjson.loads(data[end:]) if parts & REST else None)
    return s


def due_of(data: bytes, cls: type[S]) -> float | None:
    """The due time of an encoded state, read from its head without decoding the rest (an older
    version's is decoded as ``cls``)."""
    if data[0] != STATE_VERSION:
        due: float | None = decode_json(data, cls).due
        return due
    parts = data[1] | data[2] << 8
    if not parts & (DUE_INT | DUE_FLOAT):
        return None
    v: tuple[Any, ...] = _head(parts).unpack_from(data)
    at: float = v[-2] if parts & CRITICAL else v[-1]  # the due time is the last field but critical_since
    return at


def _times(words: tuple[int, ...], start: int, end: int) -> array[int]:
    return array("q", words[start:end]) if end > start else _NO_TIMES.__copy__()


def _decode_fixed(s: CustomerState, v: tuple[Any, ...], parts: int) -> int:
    """The optional fields up to the last success; returns where the subscription's would be."""
    i = 10
    s.last_login = s.first_login = None
    if parts & LAST_LOGIN:
        s.last_login = v[i]
        i += 1
    if parts & FIRST_LOGIN:
        s.first_login = v[i]
        i += 1
    s.orders_total = 0
    s.value_total = 0.0
    if parts & ORDERS:
        s.orders_total = v[i]
        s.value_total = v[i + 1] if parts & MONEY_DOUBLES else v[i + 1] / 100
        i += 2
    s.first_order = None
    if parts & FIRST_ORDER:
        s.first_order = v[i]
        i += 1
    s.last_success = None
    if parts & LAST_SUCCESS:
        s.last_success = v[i]
        i += 1
    return i


def _decode_evaluation(s: CustomerState, v: tuple[Any, ...], i: int, parts: int) -> None:
    s.subscription = None
    if parts & SUBSCRIPTION:
        s.subscription = _new(Stamped, (v[i], STATUSES[v[i + 1]]))
        i += 2
    s.rar = 0.0
    if parts & RAR:
        s.rar = v[i]
        i += 1
    s.due = None
    if parts & (DUE_INT | DUE_FLOAT):
        s.due = v[i]
        i += 1
    s.critical_since = v[i] if parts & CRITICAL else None
    s.lost = bool(parts & LOST)


def _decode_rest(s: CustomerState, rest: list[Any] | None) -> None:
    if rest is None:
        s.cancelled = []
        s.tickets = {}
        s.sentiments = []
        s.last_csat = s.last_nps = None
        s.alert = NEW_MEMORY
        s.history = []
        s.ack = None
        return
    s.cancelled = cancellations(rest[0])
    s.tickets = tickets_of(rest[1])
    s.sentiments = sentiments_of(rest[2])
    s.last_csat = stamped(rest[3])
    s.last_nps = stamped(rest[4])
    s.alert = AlertMemory.of(rest[5])
    s.history = rest[6]
    s.ack = rest[7]
