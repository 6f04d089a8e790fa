"""The compact, versioned encoding of a customer's state (``rules.state.CustomerState``).

Version 6 (written): version 5's layout, with the event ids' hashes xxh3_64's (``rules.packed_lists``)
and one more part, ``LEGACY``: how many of the oldest id hashes are still version 5's BLAKE2b digests
(a state decoded from version 5 or older keeps matching those until they age out; absent at none).

Version 5: binary, little-endian. A 10-byte head (the version, a bit set of the parts
present, the lengths of the lists) and the fixed-size fields of the parts present, in one
``struct``; then the id hashes, the array's own bytes; then, in one ``struct`` of 32-bit words,
the time lists and the orders' times, id hashes and amounts. Money is in whole cents (as doubles
when an amount is not a whole number of cents), the revenue at risk and a float due time are
doubles. The rarely filled records (cancellations, tickets, sentiments, surveys, the alert
memory once alerted, the history, the acknowledgement) follow as version 4's JSON, only when one
of them is.

A state whose values do not fit (a time after 2106, more than 255 of a list, a subscription
status it does not know, ...) is written as JSON instead (version 6's: version 4 with the count of
BLAKE2b hashes appended); versions 1 to 5 still decode (``rules.codec_json`` the JSON ones). The
first byte tells them apart (``[`` for JSON).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from rules.codec_json import decode_json, encode_json, rest_json, set_rest
from rules.records import Order, Stamped

if TYPE_CHECKING:
    from rules.state import CustomerState

STATE_VERSION: Final = 6
V5: Final = 5  # the same layout, the id hashes all BLAKE2b digests and no LEGACY part
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
LEGACY: Final = 8192  # (version 6) how many of the oldest id hashes are BLAKE2b digests, when any
# the head: version, parts, the lengths of logins, seen, orders, failures, chargebacks, opened;
# then the tier and logins_total, then the optional fields of the parts present, in this order
HEAD: Final = "<BHHBBBBBBI"
OPTIONAL: Final = (
    (LEGACY, "B"),
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
_new: Final = tuple.__new__
# the array methods as statics: a call without looking the method up by name (compiled)
# shared by every decoded state with none (``rules.state.CustomerState``: its methods never add
# to an empty one in place; rules.codec_json has the others); a state's logins and id hashes are always its own
_NO_FAILURES: Final = array("q")
_new_times: Final[Callable[[], array[int]]] = _NO_TIMES.__copy__
_new_hashes: Final[Callable[[], array[int]]] = _NO_HASHES.__copy__
_fromlist: Final[Callable[[array[int], list[int]], None]] = array.fromlist
_frombytes: Final[Callable[[array[int], bytes], None]] = array.frombytes
_tolist: Final[Callable[[array[int]], list[int]]] = array.tolist
_tobytes: Final[Callable[[array[int]], bytes]] = array.tobytes

_heads: Final[list[struct.Struct | None]] = [None] * (2 * LEGACY)  # the head and fixed fields, by parts
# the whole binary part in one struct (head, fixed fields, id hashes as bytes, words, doubles), by
# parts and lengths: one pack or unpack call a state; at most MAX_LAYOUTS kept (others built each time)
_layouts: Final[dict[int, struct.Struct]] = {}
MAX_LAYOUTS: Final = 4096


class Unfit(ValueError):
    """A value version 5 cannot hold."""


def _head(parts: int) -> struct.Struct:
    # a list by the parts, not a dict: no int object made for a key
    head = _heads[parts] if parts < len(_heads) else None
    if head is None:
        money = "Id" if parts & MONEY_DOUBLES else "II"
        fmt = "".join((money if bit == ORDERS else f) for bit, f in OPTIONAL if parts & bit)
        head = struct.Struct(HEAD + fmt)
        if parts < len(_heads):  # (the bits of no part: damaged bytes, not kept)
            _heads[parts] = head
    return head


def _layout(parts: int, n_seen: int, count: int, doubles: int) -> struct.Struct:
    """The struct of a state's binary part: the head and fixed fields of ``parts``, ``n_seen``
    id hashes (as bytes), ``count`` 32-bit words and ``doubles`` amounts as doubles."""
    if n_seen > 0xFF or doubles > 0xFF or count >= 1 << 30:
        raise Unfit("lists too long for version 5")
    key = parts | n_seen << 16 | doubles << 24 | count << 32
    layout = _layouts.get(key)
    if layout is None:
        layout = struct.Struct(f"{_head(parts).format}{4 * n_seen}s{count}I{doubles}d")
        if len(_layouts) < MAX_LAYOUTS:
            _layouts[key] = layout
    return layout


# -- encode ---------------------------------------------------------------------------------


def encode(s: CustomerState) -> bytes:
    """Version 6 binary, or version 6 JSON for a state that does not fit it."""
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


def _hashes(raw: bytes) -> array[int]:
    """The id hashes from the bytes of their array."""
    out = _new_hashes()
    if raw:
        _frombytes(out, raw)
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
        c = int(x * 100 + 0.5)  # round(): both give the same c wherever c / 100 == x (and fail alike elsewhere)
        # c / 100.0: a native division (c < 2^32 is an exact double), the same double as c / 100
        if c < 0 or c > 0xFFFFFFFF or c / 100.0 != x or (c == 0 and math.copysign(1.0, x) < 0):
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
    for o in orders:  # (appended: no list made to extend with)
        words.append(o.time)
    for o in orders:
        words.append(o.key)
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
    words = _tolist(s.logins)
    if s.failures:
        words.extend(_tolist(s.failures))
    if s.chargebacks:
        words.extend(_tolist(s.chargebacks))
    if s.opened:
        words.extend(_tolist(s.opened))
    return words


def _words(values: list[int]) -> bytes:
    """32-bit little-endian words, by an array's fromlist: OverflowError for a value outside
    0 .. 2^32 - 1 (struct's "I" too), but no tuple of the list and a cheaper conversion a word."""
    words = _new_hashes()
    _fromlist(words, values)
    if BIG_ENDIAN:
        words.byteswap()
    return _tobytes(words)


def _encode_v5(s: CustomerState) -> bytes:
    """The head and fixed fields, the id hashes, the words and the doubles: the bytes of the one
    struct ``_layout`` ("<": no padding), made in parts: the head's struct (by the parts) is
    reused and the words are an array's, where nearly every state's layout was a new struct."""
    seen = s.seen
    fixed: list[Any] = [
        STATE_VERSION,
        0,
        len(s.logins),
        len(seen),
        len(s.orders),
        len(s.failures),
        len(s.chargebacks),
        len(s.opened),
        s.tier,
        s.logins_total,
    ]
    parts = 0
    if s.legacy_seen:
        parts = LEGACY
        fixed.append(s.legacy_seen)
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
    rest = rest_json(s)
    if rest:
        parts |= REST
    fixed[1] = parts
    chunks = [_head(parts).pack(*fixed), _raw(seen, "I"), _words(words)]
    if doubles:
        chunks.append(struct.pack(f"<{len(doubles)}d", *doubles))
    chunks.append(rest)
    return b"".join(chunks)


# -- decode ---------------------------------------------------------------------------------


def decode(data: bytes, cls: type[S]) -> S:
    if data[0] != STATE_VERSION and data[0] != V5:
        return decode_json(data, cls)
    return decode_into(cls(True), data)


def decode_into(s: S, data: bytes) -> S:
    """Set every field of the blank state ``s`` from the version 6 or 5 bytes ``data``."""
    parts = data[1] | data[2] << 8
    n_logins = data[3] | data[4] << 8
    n_seen = data[5]
    n_orders = data[6]
    n_failures = data[7]
    n_chargebacks = data[8]
    n_opened = data[9]
    doubles = n_orders if parts & MONEY_DOUBLES else 0
    count = n_logins + n_failures + n_chargebacks + n_opened + n_orders * (2 if doubles else 3)
    layout = _layout(parts, n_seen, count, doubles)
    v: tuple[Any, ...] = layout.unpack_from(data)
    at = len(v) - count - doubles  # the words' first
    s.seen = _hashes(v[at - 1])
    s.logins = _own_times(v, at, at + n_logins)
    at += n_logins
    s.failures = _times(v, at, at + n_failures)
    at += n_failures
    s.chargebacks = _times(v, at, at + n_chargebacks)
    at += n_chargebacks
    s.opened = _times(v, at, at + n_opened)
    at += n_opened
    s.tier = v[8]
    s.logins_total = v[9]
    i = _decode_fixed(s, v, parts)
    if data[0] == V5:
        s.legacy_seen = n_seen  # all BLAKE2b digests
    s.orders = _orders(v, at, n_orders, doubles) if n_orders else []
    _decode_evaluation(s, v, i, parts)
    set_rest(s, orjson.loads(data[layout.size :]) if parts & REST else None)
    return s


def _orders(v: tuple[Any, ...], at: int, n: int, doubles: int) -> list[Order]:
    """The orders from their words (times, id hashes, then cents unless ``doubles``) and doubles."""
    times = v[at : at + n]
    keys = v[at + n : at + 2 * n]
    amounts: Sequence[float] = v[len(v) - n :] if doubles else [c / 100 for c in v[at + 2 * n : at + 3 * n]]
    return [_new(Order, (t, a, k)) for t, a, k in zip(times, amounts, keys, strict=True)]


def due_of(data: bytes, cls: type[S]) -> float | None:
    """The due time of an encoded state, read from its head without decoding the rest (an older
    version's is decoded as ``cls``)."""
    if data[0] != STATE_VERSION and data[0] != V5:
        due: float | None = decode_json(data, cls).due
        return due
    parts = data[1] | data[2] << 8
    if not parts & (DUE_INT | DUE_FLOAT):
        return None
    v: tuple[Any, ...] = _head(parts).unpack_from(data)
    at: float = v[-2] if parts & CRITICAL else v[-1]  # the due time is the last field but critical_since
    return at


def _own_times(v: tuple[Any, ...], start: int, end: int) -> array[int]:
    out = _new_times()
    if end > start:
        _fromlist(out, list(v[start:end]))
    return out


def _times(v: tuple[Any, ...], start: int, end: int) -> array[int]:
    """A time list other than the logins: the shared empty one for none."""
    return _own_times(v, start, end) if end > start else _NO_FAILURES


def _decode_fixed(s: CustomerState, v: tuple[Any, ...], parts: int) -> int:
    """The optional fields up to the last success; returns where the subscription's would be."""
    i = 10
    s.legacy_seen = 0
    if parts & LEGACY:
        s.legacy_seen = v[i]
        i += 1
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
