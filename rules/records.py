"""The typed records of a customer's state (``rules.state``) and its alert memory (``rules.alerts``).

Immutable ones are named tuples (they sort by time, like the lists they live in); a ticket,
changed in place by its actions, is a slotted dataclass. ``rules.codec`` turns them into the
compact encoding, ``rules.codec_decode`` back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

TIERS = 4  # healthy, watch, at_risk, critical (rules.scoring.TIER_NAMES)
NATIVE: Final = not __file__.endswith((".py", ".pyc"))  # this module runs compiled (mypyc)
_TIE: Final = 5e-7  # how far from a half the scaled value must be for round_places' fast path
_BOUND: Final = 2147483648.0  # 2**31: below it the scaled value is off by at most 2**-23


def round_places(x: float, digits: int) -> float:
    """``round(x, digits)`` of a float: the builtin when run as Python; compiled, :func:`round_fast`
    (the builtin formats and parses a decimal string: thousands of instructions a call)."""
    if not NATIVE:
        return round(x, digits)
    return round_fast(x, digits)


def round_fast(x: float, digits: int) -> float:
    """``round(x, digits)`` by arithmetic for 2 to 4 digits, the same double: the scaled value
    ``p = x * 10**digits`` is within 2**-23 of the exact product below 2**31, so when its
    fraction is not within ``_TIE`` of a half the nearest whole ``k`` is the builtin's (which
    rounds the exact value), and ``k / 10**digits`` is the double nearest that decimal, as the
    builtin's parse gives (a zero keeps the sign of ``x``, as the builtin's). Anything else
    (a near tie, a large value, a NaN or an infinity, other digits): the builtin."""
    scale = 100.0 if digits == 2 else 10000.0 if digits == 4 else 1000.0 if digits == 3 else 0.0
    p = x * scale
    if scale and -_BOUND < p < _BOUND:
        k = math.floor(p)
        r = p - k
        if r > 0.5 + _TIE:
            k += 1
        elif r >= 0.5 - _TIE:
            return round(x, digits)
        return k / scale if k else x * 0.0
    return round(x, digits)


class Order(NamedTuple):
    """A placed order; ``key`` is the 32-bit hash of its order id."""

    time: int
    amount: float
    key: int


class Cancellation(NamedTuple):
    """A cancellation or refund seen before its order."""

    key: int
    time: int


class Sentiment(NamedTuple):
    time: int
    value: float


class Stamped(NamedTuple):
    """A latest value with its time: the subscription status, the last CSAT or NPS answer."""

    time: int
    value: Any


@dataclass(slots=True)
class Ticket:
    """A support ticket: its last action's time and rank (``TICKET_ACTION_RANK``), whether it is
    open, when it was (re)opened, its priority."""

    last: int
    open: bool = False
    opened: int | None = None
    priority: str | None = None
    rank: int = -1

    @property
    def urgent_open_since(self) -> int | None:
        """When this open urgent ticket was (re)opened; None for any other ticket."""
        return self.opened if self.open and self.priority == "urgent" else None


class AlertMemory(NamedTuple):
    """The alert lifecycle's memory: the alerted tier's rank, the last firing time per tier rank,
    and what ``rules.history.remembered`` keeps of the previous published alert (None before the
    first), for the next alert's ``changes``."""

    tier: int = 0
    fired: tuple[float | None, ...] = (None,) * TIERS
    previous: list[Any] | None = None

    @classmethod
    def of(cls, memory: AlertMemory | Sequence[Any] | None) -> AlertMemory:
        """A memory from what storage gives back (lists, tuples, None, a missing or bad firing list)."""
        if isinstance(memory, AlertMemory):
            return memory
        if memory is None or len(memory) == 0 or (len(memory) == 1 and memory[0] == 0):
            return NEW_MEMORY  # never alerted (most customers): the one shared memory
        times = memory[1] if len(memory) > 1 else None
        previous = list(memory[2]) if len(memory) > 2 and memory[2] is not None else None
        if not isinstance(times, list | tuple) or len(times) != TIERS:
            return cls(int(memory[0]), (None,) * TIERS, previous)
        return cls(int(memory[0]), tuple(times), previous)


NEW_MEMORY = AlertMemory()


def open_urgent_since(tickets: dict[int, Ticket]) -> int | None:
    """When the oldest open urgent ticket was (re)opened (``open_urgent_ticket_hours`` and its due time)."""
    since = [x for k in tickets.values() if (x := k.urgent_open_since) is not None]
    return min(since) if since else None
