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
BLAKE2b hashes appended); versions 1 to 5 still decode (``rules.codec_decode``; ``rules.codec_json``
the JSON ones). The first byte tells them apart (``[`` for JSON).

Here: the layout's constants (the parts, the head, the subscription statuses) and the encoder;
reading the bytes back is ``rules.codec_decode``'s.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from rules.codec_json import encode_json, rest_json
from rules.packed_lists import HASH_SIZE, pack_words

if TYPE_CHECKING:
    from rules.state import CustomerState

STATE_VERSION: Final = 6
V5: Final = 5  # the same layout, the id hashes all BLAKE2b digests and no LEGACY part

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

# the array methods as statics: a call without looking the method up by name (compiled)
_fromlist: Final[Callable[[array[int], list[int]], None]] = array.fromlist
_tolist: Final[Callable[[array[int]], list[int]]] = array.tolist

_heads: Final[list[struct.Struct | None]] = [None] * (2 * LEGACY)  # the head and fixed fields, by parts


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


# -- encode ---------------------------------------------------------------------------------


def encode(s: CustomerState) -> bytes:
    """Version 6 binary, or version 6 JSON for a state that does not fit it."""
    try:
        return _encode_v5(s)
    except (struct.error, OverflowError, ValueError, TypeError):
        return encode_json(s)


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


def _encode_v5(s: CustomerState) -> bytes:
    """The head and fixed fields, the id hashes, the words and the doubles: the bytes of the one
    struct the decoder unpacks (``rules.codec_decode._layout``; "<": no padding), made in parts: the
    head's struct (by the parts) is reused and the words are an array's, where nearly every state's
    layout was a new struct."""
    seen = s.seen
    fixed: list[Any] = [
        STATE_VERSION,
        0,
        len(s.logins),
        len(seen) // HASH_SIZE,
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
    chunks = [_head(parts).pack(*fixed), seen.encode("latin-1"), pack_words(words)]
    if doubles:
        chunks.append(struct.pack(f"<{len(doubles)}d", *doubles))
    chunks.append(rest)
    return b"".join(chunks)
