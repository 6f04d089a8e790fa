"""The JSON versions (1 to 4, and 6) of a customer's state encoding (``rules.codec`` has the
binary versions 5 and 6 and chooses when writing, ``rules.codec_decode`` when reading).

An orjson list, the version first, then the fields by position; time lists are packed as a first
time and base64 of 24-bit deltas, id hashes as base64 of 32-bit words. Every version ever written
still decodes:

- 1: time lists as plain deltas; 2: time lists and order hashes packed as base64;
- 3: version 2 with the first login appended;
- 4: version 3 with the history and the acknowledgement appended (``rules.history``,
  ``rules.acknowledgement``), left out while both are empty; the alert memory as short as it
  can be (``[0]`` for a customer never alerted);
- 6: version 4 with the history and acknowledgement always there, then how many of the oldest id
  hashes are BLAKE2b digests (the event ids' are xxh3_64's from version 6 on; in versions 1 to 4
  all are). Written for a state that version 6's binary fixed-size fields cannot hold (a time after
  2106, a count beyond 255, ...).

Version 5's rarely filled part (tickets, sentiments, surveys, the alert memory, history and
acknowledgement) is JSON too, with the helpers here.
"""

from __future__ import annotations

from array import array
from binascii import a2b_base64, b2a_base64
from collections.abc import Sequence
from itertools import accumulate
from operator import sub
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from rules.packed_lists import HASH_SIZE, pack_words, unpack_words
from rules.records import NEW_MEMORY, AlertMemory, Cancellation, Order, Sentiment, Stamped, Ticket

if TYPE_CHECKING:
    from rules.state import CustomerState

JSON_VERSION = 6
V2_FIELDS = 25  # list items of a version 1 or 2 encoding
S = TypeVar("S", bound="CustomerState")


def pack_hashes(hashes: Sequence[int]) -> str:
    """32-bit hashes as base64 of little-endian words: about 5.3 characters each instead of 11."""
    return b2a_base64(pack_words(list(hashes)), newline=False).decode()


def unpack_hashes(text: str) -> array[int]:
    return unpack_words(a2b_base64(text))


def _pack_seen(seen: str) -> str:
    """The seen event ids' hashes as :func:`pack_hashes` writes them: their text's latin-1 bytes are
    the hashes' little-endian words already (``rules.packed_lists.holds``)."""
    return b2a_base64(seen.encode("latin-1"), newline=False).decode()


def pack_times(times: Sequence[int]) -> list[Any]:
    """Sorted epoch seconds as [first, base64 of the following deltas in 24-bit little-endian
    words] (4 characters per time instead of about 8); as [first, *deltas] when a gap reaches
    2^24 s (194 days, longer than any window keeps)."""
    if len(times) < 2:  # most lists of most customers: no time, or one
        return [times[0], ""] if times else []
    rest = list(map(sub, times[1:], times))
    if rest and (max(rest) >= 1 << 24 or min(rest) < 0):
        return [times[0], *rest]
    packed = bytearray(pack_words(rest))
    del packed[3::4]  # the high byte of each word, always 0
    return [times[0], b2a_base64(packed, newline=False).decode()]


def unpack_times(packed: list[Any]) -> array[int]:
    if len(packed) == 2 and isinstance(packed[1], str):
        if not packed[1]:
            return array("q", (packed[0],))
        raw = a2b_base64(packed[1])
        wide = bytearray(len(raw) // 3 * 4)
        for i in range(3):
            wide[i::4] = raw[i::3]
        return array("q", list(accumulate(unpack_words(wide), initial=packed[0])))
    return array("q", list(accumulate(packed)))


def _unpack_ints(packed: str | list[int]) -> Sequence[int]:
    return unpack_hashes(packed) if isinstance(packed, str) else packed


def _plain(value: Any) -> Any:
    """Named tuples (records, the alert memory) as JSON arrays."""
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def compact(data: bytes) -> bytes:
    """A right-sized copy of orjson's output. orjson (3.x) returns its bytes in a buffer of at
    least 4 KiB that is never shrunk: kept as a customer's state, every ~200-byte value would
    hold 4 KiB of memory (measured: 4,097 bytes traced per value; the worker's RSS per customer
    was 20 to 40 times its encoded state). tests/unit/test_state_memory.py guards it."""
    return memoryview(data).tobytes()


def tickets_json(tickets: dict[int, Ticket]) -> list[list[Any]]:
    return [[h, k.last, k.open, k.opened, k.priority, k.rank] for h, k in tickets.items()]


def encode_json(s: CustomerState) -> bytes:
    """Version 6."""
    orders = s.orders
    tickets = tickets_json(s.tickets)
    return compact(
        orjson.dumps(
            [
                JSON_VERSION,
                _pack_seen(s.seen),
                pack_times(s.logins),
                s.logins_total,
                s.last_login,
                [
                    pack_times([o.time for o in orders]),
                    [o.amount for o in orders],
                    pack_hashes([o.key for o in orders]),
                ],
                s.orders_total,
                s.value_total,
                s.first_order,
                s.cancelled,
                pack_times(s.failures),
                s.last_success,
                pack_times(s.chargebacks),
                s.subscription,
                pack_times(s.opened),
                tickets,
                s.sentiments,
                s.last_csat,
                s.last_nps,
                memory_json(s.alert),
                s.tier,
                s.rar,
                s.critical_since,
                s.lost,
                s.due,
                s.first_login,
                s.history,
                s.ack,
                s.legacy_seen,
            ],
            default=_plain,
        )
    )


def memory_json(memory: AlertMemory) -> list[Any]:
    """The alert memory without what a customer never alerted does not need (most customers)."""
    if memory.previous is not None:
        return [memory.tier, memory.fired, memory.previous]  # (orjson writes a tuple as a list)
    if any(x is not None for x in memory.fired):
        return [memory.tier, memory.fired]
    return [memory.tier]


def _orders(orders: list[Any]) -> list[Order]:
    return [Order(*o) for o in zip(unpack_times(orders[0]), orders[1], _unpack_ints(orders[2]), strict=True)]


def stamped(value: list[Any] | None) -> Stamped | None:
    return None if value is None else Stamped(value[0], value[1])


def cancellations(raw: list[Any]) -> list[Cancellation]:
    return [Cancellation(c[0], c[1]) for c in raw] if raw else []


def tickets_of(raw: list[Any]) -> dict[int, Ticket]:
    return {k[0]: Ticket(k[1], k[2], k[3], k[4], k[5]) for k in raw} if raw else {}


def sentiments_of(raw: list[Any]) -> list[Sentiment]:
    return [Sentiment(x[0], x[1]) for x in raw] if raw else []


def decode_json(data: bytes, cls: type[S]) -> S:
    """Versions 1 to 4 and 6."""
    raw = orjson.loads(data)
    if raw[0] not in (1, 2, 3, 4, JSON_VERSION):
        raise ValueError(f"customer state version {raw[0]} is not supported (this build reads 1 to 6)")
    s = cls(True)
    s.first_login = raw[V2_FIELDS] if raw[0] >= 3 else None
    extras = raw[V2_FIELDS + 1 :] if raw[0] >= 4 else []
    s.history = extras[0] if extras else []
    s.ack = extras[1] if len(extras) > 1 else None
    (
        _v,
        seen,
        logins,
        s.logins_total,
        s.last_login,
        orders,
        s.orders_total,
        s.value_total,
        s.first_order,
        cancelled,
        failures,
        s.last_success,
        chargebacks,
        subscription,
        opened,
        tickets,
        sentiments,
        last_csat,
        last_nps,
        alert,
        s.tier,
        s.rar,
        s.critical_since,
        s.lost,
        s.due,
    ) = raw[:V2_FIELDS]
    s.seen = a2b_base64(seen).decode("latin-1")  # (the text rules.packed_lists.holds searches)
    s.legacy_seen = extras[2] if raw[0] >= 6 else len(s.seen) // HASH_SIZE  # before version 6: all BLAKE2b digests
    s.logins = unpack_times(logins)
    s.orders = _orders(orders) if orders[1] else []
    s.cancelled = cancellations(cancelled)
    s.failures = unpack_times(failures)
    s.chargebacks = unpack_times(chargebacks)
    s.subscription = stamped(subscription)
    s.opened = unpack_times(opened)
    s.tickets = tickets_of(tickets)
    s.sentiments = sentiments_of(sentiments)
    s.last_csat = stamped(last_csat)
    s.last_nps = stamped(last_nps)
    s.alert = AlertMemory.of(alert)
    return s


# -- version 5's tail (rules.codec) ------------------------------------------------------

# shared by every decoded state with none (``rules.state.CustomerState``: its methods never add
# to an empty one in place)
NO_RECORDS: Final[list[Any]] = []
NO_TICKETS: Final[dict[int, Ticket]] = {}


def rest_json(s: CustomerState) -> bytes:
    """The rarely filled records as JSON (version 5's tail); empty when all are empty (most customers)."""
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
    # the named tuples as lists here: orjson would call ``default`` (``_plain``) back for each one
    sentiments = [list(x) for x in s.sentiments]
    csat = None if s.last_csat is None else list(s.last_csat)
    nps = None if s.last_nps is None else list(s.last_nps)
    rest = [s.cancelled, tickets_json(s.tickets), sentiments, csat, nps, memory, s.history, s.ack]
    return orjson.dumps(rest, default=_plain)


def set_rest(s: CustomerState, rest: list[Any] | None) -> None:
    """The rarely filled records from version 5's tail (None: all empty, the shared empty ones)."""
    if rest is None:
        s.cancelled = NO_RECORDS
        s.tickets = NO_TICKETS
        s.sentiments = NO_RECORDS
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
