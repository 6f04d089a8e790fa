"""Per-customer state: what is kept of a customer's history, its bounds, and its encoding.

Everything a signal needs, and nothing more, with a fixed bound on every list, so a customer
seen once and a customer with ten thousand events cost about the same. Event times are kept at
one-second resolution. Applying events is commutative within the allowed lateness: every list
is kept sorted by time and every "latest" value carries its time, so events arriving out of
order give the same state as in order.

Bounds (documented in the README's limits):
- successful logins: times of the last 35 days, at most ``MAX_LOGINS`` (the oldest beyond it
  are dropped, so ``logins_prev_28d`` saturates for very heavy users);
- placed orders: time, amount and order-id hash of the orders of the last 90 days and of the
  last 17 orders (13 for the median gap, 4 more for cancellations among them), at most
  ``MAX_ORDERS``; cancellations/refunds seen before their order are remembered (at most
  ``MAX_CANCELLED``);
- payment failures: those of 30 days and every one since the last success (all of them while
  there is no success yet), at most ``MAX_FAILURES``; chargebacks of 90 days;
- tickets: ``opened`` times of 14 days; open tickets (at most ``MAX_TICKETS``), resolved ones
  for the allowed lateness; sentiment values of 30 days (at most ``MAX_SENTIMENTS``);
- event ids for de-duplication: 32-bit hashes of the last ``MAX_SEEN`` events.

The encoding is a versioned orjson list (``STATE_VERSION`` first); ``decode`` migrates.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import struct
from itertools import accumulate
from typing import Any

import orjson

STATE_VERSION = 4  # 4: history, acknowledgement appended; 3: first_login appended; 2: packed lists; 1..3 still read
V2_FIELDS = 25  # list items of a version 1 or 2 encoding
DAY = 86400

MAX_LOGINS = 256
MAX_ORDERS = 64
MAX_CANCELLED = 16
MAX_FAILURES = 32
MAX_CHARGEBACKS = 16
MAX_OPENED = 32
MAX_TICKETS = 16
MAX_SENTIMENTS = 32
MAX_SEEN = 32

LOGIN_HORIZON = 35 * DAY
ORDER_HORIZON = 90 * DAY
ORDER_GAPS = 12
ORDER_CANCEL_SPARE = 4  # orders kept beyond the last 13, for cancellations among them
FAILURE_HORIZON = 30 * DAY
CHARGEBACK_HORIZON = 90 * DAY
OPENED_HORIZON = 14 * DAY
SENTIMENT_HORIZON = 30 * DAY

# ties at the same second are resolved by these ranks, so any arrival order gives the same state
TICKET_ACTION_RANK = {"opened": 0, "updated": 1, "reopened": 2, "resolved": 3}
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}

SUBSCRIPTION_STATUS = {
    "started": "active",
    "upgraded": "active",
    "resumed": "active",
    "paused": "paused",
    "downgraded": "downgraded",
    "cancelled": "cancelled",
}


def id_hash(text: str) -> int:
    """A stable 32-bit hash of an id (Python's ``hash`` differs between processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def _deltas(times: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *times], times, strict=False)]


def _pack_hashes(hashes: list[int]) -> str:
    """32-bit hashes as base64 of little-endian words: about 5.3 characters each instead of 11."""
    return base64.b64encode(struct.pack(f"<{len(hashes)}I", *hashes)).decode()


def _unpack_hashes(text: str) -> list[int]:
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 4}I", raw))


def _undeltas(deltas: list[int]) -> list[int]:
    return list(accumulate(deltas))


def _pack_times(times: list[int]) -> list[Any]:
    """Sorted epoch seconds as [first, base64 of the following deltas in 24-bit little-endian
    words] (4 characters per time instead of about 8); as [first, *deltas] when a gap reaches
    2^24 s (194 days, longer than any window keeps)."""
    if not times:
        return []
    deltas = _deltas(times)
    rest = deltas[1:]
    if rest and (max(rest) >= 1 << 24 or min(rest) < 0):
        return deltas
    packed = bytearray(struct.pack(f"<{len(rest)}I", *rest))
    del packed[3::4]  # the high byte of each word, always 0
    return [deltas[0], base64.b64encode(packed).decode()]


def _unpack_times(packed: list[Any]) -> list[int]:
    if len(packed) == 2 and isinstance(packed[1], str):
        raw = base64.b64decode(packed[1])
        wide = bytearray(len(raw) // 3 * 4)
        for i in range(3):
            wide[i::4] = raw[i::3]
        return _undeltas([packed[0], *struct.unpack(f"<{len(wide) // 4}I", wide)])
    return _undeltas(packed)


def _unpack_ints(packed: str | list[int]) -> list[int]:
    return _unpack_hashes(packed) if isinstance(packed, str) else list(packed)


def compact(data: bytes) -> bytes:
    """A right-sized copy of orjson's output. orjson (3.x) returns its bytes in a buffer of at
    least 4 KiB that is never shrunk: kept as a customer's state, every ~200-byte value would
    hold 4 KiB of memory (measured: 4,097 bytes traced per value; the worker's RSS per customer
    was 20 to 40 times its encoded state)."""
    return memoryview(data).tobytes()


class CustomerState:
    """The state of one customer. Times are int epoch seconds."""

    __slots__ = (
        "ack",
        "alert",
        "cancelled",
        "chargebacks",
        "critical_since",
        "due",
        "failures",
        "first_login",
        "first_order",
        "history",
        "last_csat",
        "last_login",
        "last_nps",
        "last_success",
        "logins",
        "logins_total",
        "lost",
        "opened",
        "orders",
        "orders_total",
        "rar",
        "seen",
        "sentiments",
        "subscription",
        "tickets",
        "tier",
        "value_total",
    )

    def __init__(self) -> None:
        self.seen: list[int] = []  # id hashes, oldest first
        self.logins: list[int] = []  # successful login times (sorted)
        self.logins_total = 0
        self.last_login: int | None = None
        self.first_login: int | None = None  # None in states older than version 3 (then: the oldest held login)
        self.orders: list[list[Any]] = []  # [time, amount, order hash] of placed orders (sorted)
        self.orders_total = 0
        self.value_total = 0.0
        self.first_order: int | None = None
        self.cancelled: list[list[int]] = []  # [order hash, time] of cancellations not matched yet
        self.failures: list[int] = []  # failed charge/renewal times (sorted)
        self.last_success: int | None = None
        self.chargebacks: list[int] = []
        self.subscription: list[Any] | None = None  # [time, status]
        self.opened: list[int] = []  # "opened" action times (sorted)
        # hash -> [last action time, open?, (re)opened time, priority, last action rank]
        self.tickets: dict[int, list[Any]] = {}
        self.sentiments: list[list[Any]] = []  # [time, value] (sorted)
        self.last_csat: list[int] | None = None  # [time, csat]
        self.last_nps: list[int] | None = None  # [time, nps]
        # evaluation results and alert lifecycle
        self.alert: list[Any] = [0, None]  # [alerted tier rank, {tier rank: last firing time}]
        self.tier = 0
        self.rar = 0.0  # revenue at risk at the last evaluation
        self.critical_since: int | None = None
        self.lost = False
        self.due: float | None = None
        self.history: list[list[Any]] = []  # rules.history: score and tier changes, acknowledgements
        self.ack: list[Any] | None = None  # rules.acknowledgement: [at, until, tier rank, by, note]

    # -- de-duplication -------------------------------------------------------------------

    def seen_before(self, event_id: str) -> bool:
        """True for a repeat; otherwise remembers the id."""
        h = id_hash(event_id)
        if h in self.seen:
            return True
        self.seen.append(h)
        if len(self.seen) > MAX_SEEN:
            del self.seen[0]
        return False

    # -- logins ---------------------------------------------------------------------------

    def add_login(self, ts: int, clock: int) -> None:
        self.logins_total += 1
        if self.last_login is None or ts > self.last_login:
            self.last_login = ts
        if self.first_login is None or ts < self.first_login:
            self.first_login = ts
        bisect.insort(self.logins, ts)
        cut = bisect.bisect_right(self.logins, clock - LOGIN_HORIZON)
        if cut or len(self.logins) > MAX_LOGINS:
            del self.logins[: max(cut, len(self.logins) - MAX_LOGINS)]

    # -- orders ---------------------------------------------------------------------------

    def add_order(self, ts: int, amount: float, order_hash: int, clock: int) -> None:
        for i, (h, _t) in enumerate(self.cancelled):
            if h == order_hash:  # its cancellation came first: the order counts nowhere
                del self.cancelled[i]
                return
        self.orders_total += 1
        self.value_total = round(self.value_total + amount, 2)  # in cents: the same sum in any order
        if self.first_order is None or ts < self.first_order:
            self.first_order = ts
        bisect.insort(self.orders, [ts, amount, order_hash])
        self._trim_orders(clock)

    def cancel_order(self, ts: int, order_hash: int, clock: int) -> None:
        for i, (t, amount, h) in enumerate(self.orders):
            if h == order_hash:
                del self.orders[i]
                self.orders_total -= 1
                self.value_total = max(0.0, round(self.value_total - amount, 2))
                if not self.orders_total:
                    self.first_order = None
                elif t == self.first_order and i == 0 and self.orders:  # the first order counts nowhere now
                    self.first_order = self.orders[0][0]
                return
        if any(h == order_hash for h, _t in self.cancelled):
            return
        self.cancelled.append([order_hash, ts])
        self.cancelled = [c for c in self.cancelled if c[1] > clock - ORDER_HORIZON][-MAX_CANCELLED:]

    def _trim_orders(self, clock: int) -> None:
        # the last ORDER_GAPS + 1 placed orders, plus a few more that stand in for the ones a
        # later cancellation removes (the median gap is then still over ORDER_GAPS gaps)
        keep = ORDER_GAPS + 1 + ORDER_CANCEL_SPARE
        keep_from = min(len(self.orders) - keep, bisect.bisect_right(self.orders, [clock - ORDER_HORIZON]))
        keep_from = max(keep_from, len(self.orders) - MAX_ORDERS, 0)
        if keep_from:
            del self.orders[:keep_from]

    # -- payments -------------------------------------------------------------------------

    def add_payment_result(self, ts: int, failed: bool, clock: int) -> None:
        if failed:
            bisect.insort(self.failures, ts)
        elif self.last_success is None or ts > self.last_success:
            self.last_success = ts
        # keep failures of the last 30 days and every failure since the last success (with no
        # success yet, every failure: consecutive_payment_failures counts them all)
        floor = clock - FAILURE_HORIZON if self.last_success is not None else -1
        if self.last_success is not None:
            floor = min(floor, self.last_success)
        cut = bisect.bisect_right(self.failures, floor)
        cut = max(cut, len(self.failures) - MAX_FAILURES)
        if cut > 0:
            del self.failures[:cut]

    def add_chargeback(self, ts: int, clock: int) -> None:
        bisect.insort(self.chargebacks, ts)
        cut = max(
            bisect.bisect_right(self.chargebacks, clock - CHARGEBACK_HORIZON), len(self.chargebacks) - MAX_CHARGEBACKS
        )
        if cut > 0:
            del self.chargebacks[:cut]

    def set_subscription(self, ts: int, action: str) -> None:
        status = SUBSCRIPTION_STATUS[action]
        # the latest action wins; two at the same second resolve the same way in any arrival order
        if self.subscription is None or (ts, status) > (self.subscription[0], self.subscription[1]):
            self.subscription = [ts, status]

    # -- tickets --------------------------------------------------------------------------

    def ticket_action(self, ts: int, ticket_hash: int, action: str, priority: str | None, clock: int) -> None:
        if action == "opened":
            bisect.insort(self.opened, ts)
            cut = max(bisect.bisect_right(self.opened, clock - OPENED_HORIZON), len(self.opened) - MAX_OPENED)
            if cut > 0:
                del self.opened[:cut]
        if action == "survey":
            return
        rank = TICKET_ACTION_RANK[action]
        ticket = self.tickets.get(ticket_hash)
        if ticket is None:
            ticket = self.tickets[ticket_hash] = [ts, False, None, None, -1]
        elif (ts, rank) == (ticket[0], ticket[4]):  # the same action at the same second: keep the higher priority
            if priority is not None and PRIORITY_RANK[priority] > PRIORITY_RANK.get(ticket[3], -1):
                ticket[3] = priority
            return
        elif (ts, rank) < (ticket[0], ticket[4]):
            # older than what we know: only a priority never given before is kept
            if ticket[3] is None and priority is not None:
                ticket[3] = priority
            if action in ("opened", "reopened") and ticket[1] and ticket[2] is None:
                ticket[2] = ts
            return
        ticket[0] = ts
        ticket[4] = rank
        if priority is not None:
            ticket[3] = priority
        if action in ("opened", "reopened"):
            ticket[1] = True
            ticket[2] = ts
        elif action == "resolved":
            ticket[1] = False
        elif action == "updated" and ticket[2] is None:
            ticket[1] = True
            ticket[2] = ts
        self._trim_tickets(clock)

    def _trim_tickets(self, clock: int, lateness: int = 3 * DAY) -> None:
        if len(self.tickets) <= MAX_TICKETS and all(t[1] or t[0] > clock - lateness for t in self.tickets.values()):
            return
        kept = {h: t for h, t in self.tickets.items() if t[1] or t[0] > clock - lateness}
        if len(kept) > MAX_TICKETS:
            newest = sorted(kept.items(), key=lambda item: item[1][0])[-MAX_TICKETS:]
            kept = dict(newest)
        self.tickets = kept

    def add_sentiment(self, ts: int, value: float, clock: int) -> None:
        bisect.insort(self.sentiments, [ts, value])
        cut = max(
            bisect.bisect_right(self.sentiments, [clock - SENTIMENT_HORIZON, 2.0]),
            len(self.sentiments) - MAX_SENTIMENTS,
        )
        if cut > 0:
            del self.sentiments[:cut]

    def set_survey(self, ts: int, csat: int | None, nps: int | None) -> None:
        # the latest answer wins; answers at the same second resolve the same way in any arrival order
        if csat is not None and (self.last_csat is None or (ts, csat) > (self.last_csat[0], self.last_csat[1])):
            self.last_csat = [ts, csat]
        if nps is not None and (self.last_nps is None or (ts, nps) > (self.last_nps[0], self.last_nps[1])):
            self.last_nps = [ts, nps]

    # -- encoding -------------------------------------------------------------------------

    def encode(self) -> bytes:
        orders = self.orders
        tickets = [[h, *t] for h, t in self.tickets.items()]
        return compact(
            orjson.dumps(
                [
                    STATE_VERSION,
                    _pack_hashes(self.seen),
                    _pack_times(self.logins),
                    self.logins_total,
                    self.last_login,
                    [_pack_times([o[0] for o in orders]), [o[1] for o in orders], _pack_hashes([o[2] for o in orders])],
                    self.orders_total,
                    self.value_total,
                    self.first_order,
                    self.cancelled,
                    _pack_times(self.failures),
                    self.last_success,
                    _pack_times(self.chargebacks),
                    self.subscription,
                    _pack_times(self.opened),
                    tickets,
                    self.sentiments,
                    self.last_csat,
                    self.last_nps,
                    self.alert,
                    self.tier,
                    self.rar,
                    self.critical_since,
                    self.lost,
                    self.due,
                    self.first_login,
                    *self._extras(),
                ]
            )
        )

    def _extras(self) -> list[Any]:
        """Version 4's history and acknowledgement, left out while both are empty (most customers)."""
        if self.ack is not None:
            return [self.history, self.ack]
        return [self.history] if self.history else []

    @classmethod
    def decode(cls, data: bytes) -> CustomerState:
        raw = orjson.loads(data)
        if raw[0] not in (1, 2, 3, STATE_VERSION):
            raise ValueError(
                f"customer state version {raw[0]} is not supported (this build reads 1 to {STATE_VERSION})"
            )
        s = cls.__new__(cls)
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
            s.cancelled,
            failures,
            s.last_success,
            chargebacks,
            s.subscription,
            opened,
            tickets,
            s.sentiments,
            s.last_csat,
            s.last_nps,
            s.alert,
            s.tier,
            s.rar,
            s.critical_since,
            s.lost,
            s.due,
        ) = raw[:V2_FIELDS]
        s.seen = _unpack_hashes(seen)
        s.logins = _unpack_times(logins)
        s.orders = [list(o) for o in zip(_unpack_times(orders[0]), orders[1], _unpack_ints(orders[2]), strict=True)]
        s.failures = _unpack_times(failures)
        s.chargebacks = _unpack_times(chargebacks)
        s.opened = _unpack_times(opened)
        s.tickets = {t[0]: t[1:] for t in tickets}
        return s
