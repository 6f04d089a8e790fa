"""Per-customer state: what is kept of a customer's history and its bounds (encoding: ``rules.codec``).

Everything a signal needs, and nothing more, with a fixed bound on every list, so a customer
seen once and a customer with ten thousand events cost about the same. Time lists and id hashes
are arrays of machine integers (compact in memory, where the engine keeps recent customers
decoded). Event times are kept at one-second resolution. Applying events is commutative within
the allowed lateness: every list is kept sorted by time and every "latest" value carries its
time, so events arriving out of order give the same state as in order.

Bounds (documented in the README's limits); each history's horizon and cap come from its one
declaration in ``rules.windows`` (``HORIZONS``: its widest signal window; ``CAPS``):
- successful logins: times within the logins' horizon (35 days), at most ``CAPS[LOGINS]`` (the
  oldest beyond it are dropped, so ``logins_prev_28d`` saturates for very heavy users);
- placed orders (:class:`~rules.records.Order`): those within the horizon (90 days) and the last
  17 orders (13 for the median gap, 4 more for cancellations among them), at most the cap;
  cancellations/refunds seen before their order are remembered (at most ``MAX_CANCELLED``);
- payment failures: those within the horizon (30 days) and every one since the last success
  (all of them while there is no success yet), at most the cap; chargebacks within 90 days;
- tickets (:class:`~rules.records.Ticket`): ``opened`` times within 14 days; open tickets (at
  most ``MAX_TICKETS``), resolved ones for the allowed lateness; sentiments within 30 days;
- event ids for de-duplication: 32-bit hashes of the last ``MAX_SEEN`` events (xxh3_64's low bits; the
  oldest ``legacy_seen`` of them BLAKE2b's, in a state decoded from version 5 or older, until they age out).
"""

from __future__ import annotations

import bisect
from typing import Any, Final

from rules import codec, codec_decode
from rules.memo import Memo
from rules.packed_lists import (
    HASH_SIZE,
    append_time,
    event_key,
    holds,
    id_hash,
    insort,
    legacy_key,
    times_list,
    trim_times,
)
from rules.records import NEW_MEMORY, AlertMemory, Cancellation, Order, Sentiment, Stamped, Ticket, round_places
from rules.windows import CAPS, CHARGEBACKS, DAY, FAILURES, HORIZONS, LOGINS, OPENED, ORDERS, SENTIMENTS

MAX_CANCELLED: Final = 16
MAX_TICKETS: Final = 16
MAX_SEEN: Final = 32
_SEEN_TEXT: Final = MAX_SEEN * HASH_SIZE  # the characters of MAX_SEEN hashes
_new: Final = tuple.__new__
ORDER_GAPS: Final = 12
ORDER_CANCEL_SPARE: Final = 4  # orders kept beyond the last 13, for cancellations among them
TICKET_LATENESS: Final = 3 * DAY  # resolved tickets are kept this long (a late action may still reopen one)

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

__all__ = ["DAY", "ORDER_GAPS", "CustomerState", "id_hash"]


# each trimmed time list's horizon and cap (from rules.windows) as statics of the compiled module
_LOGINS_KEPT: Final = (HORIZONS[LOGINS], CAPS[LOGINS])
_CHARGEBACKS_KEPT: Final = (HORIZONS[CHARGEBACKS], CAPS[CHARGEBACKS])
_OPENED_KEPT: Final = (HORIZONS[OPENED], CAPS[OPENED])


class CustomerState:
    """The state of one customer. Times are int epoch seconds. A decoded state's empty histories
    but the logins are shared ones (``rules.codec_decode``): the methods that add to one give it its own."""

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
        "legacy_seen",
        "logins",
        "logins_total",
        "lost",
        "memo",
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

    def __init__(self, blank: bool = False) -> None:
        """A new customer's state; ``blank``: no field set at all, for the decoder (``rules.codec_decode``)
        to set every one (a compiled class runs ``__init__`` even from ``cls.__new__``)."""
        # what the last evaluation found in the histories (rules.memo; never encoded): each
        # method below that changes a history drops what it kept of that history
        self.memo: Memo | None = None
        if blank:
            return
        self.seen = ""  # id hashes, oldest first, 4 latin-1 characters each (rules.packed_lists.holds)
        self.legacy_seen = 0  # how many of the oldest are BLAKE2b digests (a state of version 5 or older)
        self.logins = times_list()  # successful login times (sorted)
        self.logins_total = 0
        self.last_login: int | None = None
        self.first_login: int | None = None  # None in states older than version 3 (then: the oldest held login)
        self.orders: list[Order] = []  # placed orders (sorted by time)
        self.orders_total = 0
        self.value_total = 0.0
        self.first_order: int | None = None
        self.cancelled: list[Cancellation] = []  # cancellations not matched to an order yet
        self.failures = times_list()  # failed charge/renewal times (sorted)
        self.last_success: int | None = None
        self.chargebacks = times_list()
        self.subscription: Stamped | None = None  # (time, status)
        self.opened = times_list()  # "opened" action times (sorted)
        self.tickets: dict[int, Ticket] = {}  # by ticket-id hash
        self.sentiments: list[Sentiment] = []  # (sorted by time)
        self.last_csat: Stamped | None = None
        self.last_nps: Stamped | None = None
        # evaluation results and alert lifecycle
        self.alert: AlertMemory = NEW_MEMORY
        self.tier = 0
        self.rar = 0.0  # revenue at risk at the last evaluation
        self.critical_since: int | None = None
        self.lost = False
        self.due: int | float | None = None  # an int when a window exit is the earliest (as encoded)
        self.history: list[list[Any]] = []  # rules.history: score and tier changes, acknowledgements
        self.ack: list[Any] | None = None  # rules.acknowledgement: [at, until, tier rank, by, note]

    # -- de-duplication -------------------------------------------------------------------

    def seen_before(self, event_id: str) -> bool:
        """True for a repeat; otherwise remembers the id (its :func:`event_key`; an id is also looked for
        by its BLAKE2b digest among the ``legacy_seen`` oldest hashes, of an older version's state)."""
        key = event_key(event_id)
        seen = self.seen
        legacy = self.legacy_seen
        if holds(seen, key, legacy) or (legacy and holds(seen, legacy_key(event_id), 0, legacy)):
            return True
        if len(seen) < _SEEN_TEXT:
            self.seen = seen + key
        else:  # the oldest leaves (a slice and a concatenation: a text is immutable)
            self.seen = seen[HASH_SIZE:] + key
            if legacy:
                self.legacy_seen = legacy - 1
        return False

    # -- logins ---------------------------------------------------------------------------

    def add_login(self, ts: int, clock: int) -> None:
        self.logins_total += 1
        last = self.last_login
        if self.first_login is None or ts < self.first_login:
            self.first_login = ts
        times = self.logins
        at = len(times)
        if last is not None and ts >= last:
            append_time(times, ts)  # most logins: at or after the latest, so after every held one
        elif at and times[at - 1] > ts:
            at = bisect.bisect_right(times, ts)
            times.insert(at, ts)  # bisect.insort
        else:
            append_time(times, ts)
        if last is None or ts > last:
            self.last_login = ts
        cut = trim_times(times, _LOGINS_KEPT, clock)
        if self.memo is not None:
            self.memo.login_added(at, ts, cut)

    # -- orders ---------------------------------------------------------------------------

    def add_order(self, ts: int, amount: float, order_hash: int, clock: int) -> None:
        if self.memo is not None:
            self.memo.orders = None
        for i, c in enumerate(self.cancelled):
            if c.key == order_hash:  # its cancellation came first: the order counts nowhere
                del self.cancelled[i]
                return
        self.orders_total += 1
        self.value_total = round_places(self.value_total + amount, 2)  # in cents: the same sum in any order
        if self.first_order is None or ts < self.first_order:
            self.first_order = ts
        order: Order = _new(Order, (ts, amount, order_hash))  # (tuple's own constructor: no Python-level __new__)
        orders = self.orders
        if not orders or orders[-1] <= order:
            orders.append(order)  # most orders: where insort puts them
        else:
            bisect.insort(orders, order)
        self._trim_orders(clock)

    def cancel_order(self, ts: int, order_hash: int, clock: int) -> None:
        if self.memo is not None:
            self.memo.orders = None
        for i, o in enumerate(self.orders):
            if o.key == order_hash:
                del self.orders[i]
                self.orders_total -= 1
                self.value_total = max(0.0, round_places(self.value_total - o.amount, 2))
                if not self.orders_total:
                    self.first_order = None
                elif o.time == self.first_order and i == 0 and self.orders:  # the first order counts nowhere now
                    self.first_order = self.orders[0].time
                return
        if any(c.key == order_hash for c in self.cancelled):
            return
        self.cancelled = [*self.cancelled, Cancellation(order_hash, ts)]  # (maybe the decoder's shared [])
        self.cancelled = [c for c in self.cancelled if c.time > clock - HORIZONS[ORDERS]][-MAX_CANCELLED:]

    def _trim_orders(self, clock: int) -> None:
        # the last ORDER_GAPS + 1 placed orders, plus a few more that stand in for the ones a
        # later cancellation removes (the median gap is then still over ORDER_GAPS gaps)
        orders = self.orders
        keep = ORDER_GAPS + 1 + ORDER_CANCEL_SPARE
        keep_from = min(len(orders) - keep, bisect.bisect_right(orders, (clock - HORIZONS[ORDERS],)))
        keep_from = max(keep_from, len(orders) - CAPS[ORDERS], 0)
        if keep_from:
            del orders[:keep_from]

    # -- payments -------------------------------------------------------------------------

    def add_payment_result(self, ts: int, failed: bool, clock: int) -> None:
        if self.memo is not None:
            self.memo.failures = None
        if failed:
            if not self.failures:  # (maybe the decoder's shared empty list: see the class)
                self.failures = times_list()
            insort(self.failures, ts)
        elif self.last_success is None or ts > self.last_success:
            self.last_success = ts
        # keep failures within the horizon and every failure since the last success (with no
        # success yet, every failure: consecutive_payment_failures counts them all)
        floor = clock - HORIZONS[FAILURES] if self.last_success is not None else -1
        if self.last_success is not None:
            floor = min(floor, self.last_success)
        cut = max(bisect.bisect_right(self.failures, floor), len(self.failures) - CAPS[FAILURES])
        if cut > 0:
            del self.failures[:cut]

    def add_chargeback(self, ts: int, clock: int) -> None:
        if self.memo is not None:
            self.memo.chargebacks = None
        if not self.chargebacks:
            self.chargebacks = times_list()
        insort(self.chargebacks, ts)
        trim_times(self.chargebacks, _CHARGEBACKS_KEPT, clock)

    def set_subscription(self, ts: int, action: str) -> None:
        status = SUBSCRIPTION_STATUS[action]
        # the latest action wins; two at the same second resolve the same way in any arrival order
        if self.subscription is None or (ts, status) > self.subscription:
            self.subscription = Stamped(ts, status)

    # -- tickets --------------------------------------------------------------------------

    def ticket_action(self, ts: int, ticket_hash: int, action: str, priority: str | None, clock: int) -> None:
        if self.memo is not None:
            self.memo.opened = None
            self.memo.tickets = False
        if action == "opened":
            if not self.opened:
                self.opened = times_list()
            insort(self.opened, ts)
            trim_times(self.opened, _OPENED_KEPT, clock)
        if action == "survey":
            return
        rank = TICKET_ACTION_RANK[action]
        ticket = self.tickets.get(ticket_hash)
        if ticket is None:
            if not self.tickets:
                self.tickets = {}
            ticket = self.tickets[ticket_hash] = Ticket(ts)
        elif (ts, rank) == (ticket.last, ticket.rank):  # the same action at the same second: keep the higher priority
            if priority is not None and PRIORITY_RANK[priority] > PRIORITY_RANK.get(ticket.priority or "", -1):
                ticket.priority = priority
            return
        elif (ts, rank) < (ticket.last, ticket.rank):
            # older than what we know: only a priority never given before is kept
            if ticket.priority is None and priority is not None:
                ticket.priority = priority
            if action in ("opened", "reopened") and ticket.open and ticket.opened is None:
                ticket.opened = ts
            return
        ticket.last = ts
        ticket.rank = rank
        if priority is not None:
            ticket.priority = priority
        if action in ("opened", "reopened"):
            ticket.open = True
            ticket.opened = ts
        elif action == "resolved":
            ticket.open = False
        elif action == "updated" and ticket.opened is None:
            ticket.open = True
            ticket.opened = ts
        self._trim_tickets(clock)

    def _trim_tickets(self, clock: int) -> None:
        def kept(t: Ticket) -> bool:
            return t.open or t.last > clock - TICKET_LATENESS

        if len(self.tickets) <= MAX_TICKETS and all(kept(t) for t in self.tickets.values()):
            return
        keep = {h: t for h, t in self.tickets.items() if kept(t)}
        if len(keep) > MAX_TICKETS:
            keep = dict(sorted(keep.items(), key=lambda item: item[1].last)[-MAX_TICKETS:])
        self.tickets = keep

    def add_sentiment(self, ts: int, value: float, clock: int) -> None:
        if self.memo is not None:
            self.memo.sentiments = None
        if not self.sentiments:
            self.sentiments = []
        bisect.insort(self.sentiments, Sentiment(ts, value))
        cut = max(
            bisect.bisect_right(self.sentiments, (clock - HORIZONS[SENTIMENTS], 2.0)),
            len(self.sentiments) - CAPS[SENTIMENTS],
        )
        if cut > 0:
            del self.sentiments[:cut]

    def set_survey(self, ts: int, csat: int | None, nps: int | None) -> None:
        # the latest answer wins; answers at the same second resolve the same way in any arrival order
        if csat is not None and (self.last_csat is None or (ts, csat) > self.last_csat):
            self.last_csat = Stamped(ts, csat)
        if nps is not None and (self.last_nps is None or (ts, nps) > self.last_nps):
            self.last_nps = Stamped(ts, nps)

    @property
    def nps(self) -> int | None:
        return None if self.last_nps is None else int(self.last_nps.value)

    # -- encoding (rules.codec, rules.codec_decode) ---------------------------------------

    def encode(self) -> bytes:
        return codec.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> CustomerState:
        if cls is CustomerState and (data[0] == codec.STATE_VERSION or data[0] == codec.V5):
            return codec_decode.decode_into(CustomerState(True), data)  # (a native call when compiled)
        return codec_decode.decode(data, cls)

    @classmethod
    def due_of(cls, data: bytes) -> int | float | None:
        """The due time of encoded state, without decoding the rest."""
        return codec_decode.due_of(data, cls)
