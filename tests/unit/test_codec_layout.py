"""``rules.codec``'s encoder writes each state's parts apart (the head by its parts, the words by
their count) and joins them: the bytes are those of the one struct it packed before (checked
against a digest of that encoder's output for varied states), and a head's struct for bits no part
has (damaged bytes) is built, not kept."""

from __future__ import annotations

import hashlib
import random

from rules import codec
from rules.packed_lists import HASH_SIZE
from rules.records import AlertMemory, Cancellation, Order, Sentiment, Stamped, Ticket
from rules.state import CustomerState
from tests.unit.helpers import seen_text

T0 = 1_790_000_000
# sha256 of the 400 states' encodings below by the single-struct encoder (commit c1afcd4)
BEFORE = "395eb1e69aec0a34338cf3bd82945b69c1a16740ca2890f5770dd5aaf114da90"


def _times(r: random.Random, most: int, late: bool = False) -> list[int]:
    top = 4_400_000_000 if late and r.random() < 0.05 else T0 + 90 * 86_400
    return sorted(r.randrange(T0 - 100 * 86_400, top) for _ in range(r.randrange(most + 1)))


def _money(r: random.Random) -> float:
    return r.randrange(100_000) / 100 if r.random() < 0.9 else r.random() * 1000


def varied_state(r: random.Random) -> CustomerState:
    """A state with each part present or not, now and then one that does not fit version 6's binary."""
    s = CustomerState()
    s.seen = seen_text(r.randrange(2**32) for _ in range(r.randrange(33)))
    s.legacy_seen = r.randrange(len(s.seen) // HASH_SIZE + 1) if r.random() < 0.2 else 0
    s.logins.extend(_times(r, 60, late=True))
    s.logins_total = r.randrange(500)
    s.last_login = s.logins[-1] if s.logins else None
    s.first_login = s.logins[0] if s.logins and r.random() < 0.7 else None
    s.orders = [Order(t, _money(r), r.randrange(2**32)) for t in _times(r, 8)]
    if s.orders or r.random() < 0.2:
        s.orders_total, s.value_total = len(s.orders) + r.randrange(5), _money(r)
        s.first_order = s.orders[0].time if s.orders else None
    for name, most in (("failures", 3), ("chargebacks", 1), ("opened", 4)):
        if r.random() < 0.4:
            getattr(s, name).extend(_times(r, most))
    s.last_success = T0 + r.randrange(86_400) if r.random() < 0.5 else None
    if r.random() < 0.6:
        s.subscription = Stamped(T0, r.choice(["active", "paused", "downgraded", "cancelled", "trial"]))
    s.tier, s.rar = r.randrange(4), (r.random() * 500 if r.random() < 0.5 else 0.0)
    s.due = r.choice([None, T0 + r.randrange(86_400), T0 + r.random()])
    s.critical_since, s.lost = (T0 if r.random() < 0.3 else None), r.random() < 0.1
    if r.random() < 0.4:
        s.tickets = {r.randrange(2**32): Ticket(T0 + i, True, T0, "urgent", 0) for i in range(r.randrange(1, 4))}
        s.sentiments = [Sentiment(T0 + i, -0.5) for i in range(r.randrange(4))]
        s.last_csat = Stamped(T0, 4) if r.random() < 0.5 else None
        s.last_nps = Stamped(T0, 9) if r.random() < 0.5 else None
    if r.random() < 0.3:
        s.alert = AlertMemory(2, (None, None, float(T0), None), [52.0, "7,8,9"] if r.random() < 0.5 else None)
        s.history = [[T0, 0, 20.0, "9"]] if r.random() < 0.5 else []
    if r.random() < 0.1:
        s.cancelled = [Cancellation(r.randrange(2**32), T0)]
    return s


def encodings(n: int = 400, seed: int = 5) -> bytes:
    r = random.Random(seed)
    return b"".join(varied_state(r).encode() for _ in range(n))


def test_the_parts_joined_are_the_single_structs_bytes() -> None:
    data = encodings()
    assert hashlib.sha256(data).hexdigest() == BEFORE


def test_varied_states_decode_to_what_they_encode() -> None:
    r = random.Random(6)
    versions = set()
    for _ in range(200):
        s = varied_state(r)
        data = s.encode()
        versions.add(data[0])
        assert CustomerState.decode(data).encode() == data
    assert versions == {codec.STATE_VERSION, ord("[")}  # binary, and JSON for those that do not fit


def test_a_head_for_bits_of_no_part_is_built_not_kept() -> None:
    parts = 1 << 15  # beyond LEGACY: no part has this bit
    head = codec._head(parts)
    assert head.format == codec._head(0).format  # the head alone: no optional field
    assert codec._head(parts) is not head  # (not kept)
    assert codec._head(codec.LAST_LOGIN) is codec._head(codec.LAST_LOGIN)  # a part's: kept
