"""Reading a stored customer state's bytes back (``rules.codec`` writes them and holds the layout's
constants): the binary versions 6 and 5 here, the JSON ones by ``rules.codec_json``, told apart by
the first byte; and a state's due time read from the head alone.

The binary part (the head and fixed fields, the id hashes as bytes, the 32-bit words and the
doubles) is unpacked with one struct a state, built by ``_layout`` from the head's parts and the
lists' lengths, and cached.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from rules.codec import (
    CRITICAL,
    DUE_FLOAT,
    DUE_INT,
    FIRST_LOGIN,
    FIRST_ORDER,
    LAST_LOGIN,
    LAST_SUCCESS,
    LEGACY,
    LOST,
    MONEY_DOUBLES,
    ORDERS,
    RAR,
    REST,
    STATE_VERSION,
    STATUSES,
    SUBSCRIPTION,
    V5,
    Unfit,
    _fromlist,
    _head,
)
from rules.codec_json import decode_json, set_rest
from rules.records import Order, Stamped

if TYPE_CHECKING:
    from rules.state import CustomerState

S = TypeVar("S", bound="CustomerState")

# copied for an empty list, and named tuples made by tuple's own constructor: twice as fast as
# array("q") and a named tuple's Python __new__
_NO_TIMES: Final = array("q")
_new: Final = tuple.__new__
# shared by every decoded state with none (``rules.state.CustomerState``: its methods never add
# to an empty one in place; rules.codec_json has the others); a state's logins and id hashes are always its own
_NO_FAILURES: Final = array("q")
# the array methods as statics: a call without looking the method up by name (compiled); the
# ones the encoder uses too are rules.codec's
_new_times: Final[Callable[[], array[int]]] = _NO_TIMES.__copy__
_frombytes: Final[Callable[[array[int], bytes], None]] = array.frombytes

# the whole binary part in one struct (head, fixed fields, id hashes as bytes, words, doubles), by
# parts and lengths: one unpack call a decoded state (the encoder, rules.codec, packs the head and
# the words apart and joins the bytes); at most MAX_LAYOUTS kept (others built each time)
_layouts: Final[dict[int, struct.Struct]] = {}
MAX_LAYOUTS: Final = 4096


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
    s.seen = v[at - 1].decode("latin-1")  # (the hashes' bytes, as rules.packed_lists.holds reads them)
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
