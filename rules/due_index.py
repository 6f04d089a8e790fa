"""The due-time index: which customers a tick must evaluate (their due times: ``rules.due``).

Customers are kept in buckets of ``BUCKET_SECONDS`` of due time, each a plain list of customer
ids; bucket ``n`` holds the due times in ``(n * width, (n + 1) * width]``, so with the width of
the tick interval a tick at a multiple of it (the event clock's ticks) empties whole buckets and
scans none twice. The index keeps no due times of its own: each customer's current one is its
state's (``due_of``, given by the engine: the uncommitted state's, else read from the stored
bytes without decoding them), so an entry is live when the customer's due time falls in its
bucket. A moved due time leaves the old entry in its bucket, skipped when the bucket is popped;
the caller says the due time it replaces (``push``), so a move within a bucket adds nothing. When
the entries outnumber twice those kept at the last compaction, the stale ones are dropped, so
the index holds at most about two entries per customer however many events moved them.

Memory is what this layout is for: a customer costs a list slot or two (about 12 bytes at a
million customers). A dict of each customer's latest due time beside the buckets cost about 63
bytes more (its slot and a float), a heap of ``(due, customer)`` tuples about 190 in all.

The engine makes the buckets as wide as its tick interval: a day for the event clock (they were
a minute: a tick popped some 500 buckets a day of due times, a dict pop and a list each, and an
event's new due time mostly fell in another minute than its old one, a new entry and often a new
bucket; a day's bucket takes most moves as they are), a minute for the wall clock's default tick
(a day's bucket would be read again at every minute's tick).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from streams.parse import as_float

BUCKET_SECONDS = 86400.0  # the default tick interval (rules.config); the engine passes its own

DueOf = Callable[[str], float | None]


class DueIndex:
    """Customers by due time: push a customer's new due time, pop those due by a time."""

    def __init__(self, due_of: DueOf, bucket_seconds: float = BUCKET_SECONDS) -> None:
        """``due_of``: a customer's current due time (None: not due, or not known)."""
        self._due_of = due_of
        self._width = bucket_seconds
        self._buckets: dict[int, list[str]] = {}  # bucket number -> customer ids (some stale)
        # the bucket numbers held: in order, then the new ones, sorted in when the order is read (a
        # tick pops the due ones from the front all at once; a heap sifts for each pop, a sorted
        # list moves its tail for each push)
        self._numbers: list[int] = []
        self._new: list[int] = []
        self._entries = 0
        self._kept = 0  # entries after the last compaction
        # the bucket added to last, and its number: the next add mostly goes to the same one (events come
        # in time order, their due times a window's width after them), without the dict lookup of a boxed
        # int; forgotten (None) wherever a bucket list is dropped or replaced (pop, compaction, clear)
        self._last: list[str] | None = None
        self._last_number = 0

    def __len__(self) -> int:
        """Entries held, stale ones included."""
        return self._entries

    def _bucket(self, due: float) -> int:
        """The bucket of a due time: ``n`` for ``n * width < due <= (n + 1) * width``."""
        return math.ceil(due / self._width) - 1

    def push(self, due: float, customer_id: str, old: float | None = None) -> None:
        """The customer's due time is now ``due``; ``old``: the due time it had, whose entry the
        index still holds (None when it has none: a new customer, or one just popped)."""
        number = self._bucket(due)
        if old is not None and self._bucket(old) == number:
            return  # its entry in that bucket stands for the new time too
        self._place(number, customer_id, due)

    def move(self, customer_id: str, due: object, old: object = None) -> None:
        """``push`` of due times as a state holds them (an int or a float; ``due`` None: not due),
        taken as objects (see :func:`as_float`). Its own bucket check, not a call of ``push``: an
        evaluation moves a due time each time, and ``old`` passed on as a ``float | None`` is boxed."""
        if due is None:
            return
        if old is not None and due == old:
            return  # most evaluations leave the due time as it was: one comparison, no conversions
        at = as_float(due)
        number = self._bucket(at)
        if old is not None and self._bucket(as_float(old)) == number:
            return  # its entry in that bucket stands for the new time too
        self._place(number, customer_id, at)

    def _place(self, number: int, customer_id: str, due: float) -> None:
        """An entry for the customer in bucket ``number`` (its due time ``due``), then a compaction
        when the entries outnumber twice those kept at the last one."""
        self._add(number, customer_id)
        if self._entries > 2 * self._kept + 1024:
            self._compact(customer_id, due)

    def _add(self, number: int, customer_id: str) -> None:
        self._entries += 1
        last = self._last
        if last is not None and number == self._last_number:
            last.append(customer_id)
            return
        bucket = self._buckets.get(number)
        if bucket is None:
            bucket = self._buckets[number] = [customer_id]
            self._new.append(number)
        else:
            bucket.append(customer_id)
        self._last, self._last_number = bucket, number

    def due_of(self, customer_id: str) -> float | None:
        """The customer's current due time (``due_of`` as given; a subclass may read it directly)."""
        return self._due_of(customer_id)

    def _live(self, number: int, customer_id: str) -> float | None:
        """The customer's due time when it falls in bucket ``number``, else None (a stale entry)."""
        due = self._due_in(number, customer_id)
        return None if due != due else due

    def _due_in(self, number: int, customer_id: str) -> float:
        """``_live``, with NaN for a stale entry (no boxed float: compiled, a ``float | None`` is one)."""
        due: object = self.due_of(customer_id)  # (as an object: see as_float)
        if due is None:
            return math.nan
        at = as_float(due)
        return at if self._bucket(at) == number else math.nan

    def _compact(self, pushed: str, due: float) -> None:
        """Drop the stale entries, and the repeats of a customer within a bucket; ``pushed`` is
        the customer being pushed, at ``due`` (its state may not say so yet)."""
        entries = 0
        self._last = None
        for number in list(self._buckets):
            seen: set[str] = set()
            kept: list[str] = []
            for cid in self._buckets[number]:
                if cid in seen:
                    continue
                if (self._bucket(due) == number) if cid == pushed else (self._live(number, cid) is not None):
                    seen.add(cid)
                    kept.append(cid)
            if kept:
                self._buckets[number] = kept
                entries += len(kept)
            else:
                del self._buckets[number]
        self._numbers = sorted(self._buckets)
        self._new = []
        self._entries = self._kept = entries

    def _ordered(self) -> list[int]:
        """The bucket numbers held, in order (the new ones sorted in: one run merged into another)."""
        numbers = self._numbers
        if self._new:
            numbers.extend(self._new)
            numbers.sort()
            self._new = []
        return numbers

    def peek(self) -> float | None:
        """A time before the earliest due time (the start of its bucket: every due time held is
        after it); None when empty."""
        numbers = self._ordered()
        return numbers[0] * self._width if numbers else None

    def pop_ids(self, t: float) -> list[str]:
        """The customers due at or before ``t``, each once, in id order (a list, not a generator:
        the compiled core's generators cost more than the list; no due times: a tick needs none,
        and the tuples and boxed floats cost more than the rest of a popped customer's way here).
        A customer's repeated entries in its bucket go by the sort (no set of the popped ones)."""
        out: list[str] = []
        numbers, buckets, width = self._ordered(), self._buckets, self._width
        self._last = None
        done = 0  # the buckets emptied, from the front of numbers
        while done < len(numbers) and numbers[done] * width < t:  # (its due times are after its start)
            number = numbers[done]
            bucket = buckets[number]
            waiting: list[str] | None = None  # (made for a bucket that keeps some: the last one popped)
            for cid in bucket:
                due = self._due_in(number, cid)
                if due <= t:
                    out.append(cid)
                elif due > t:  # (else NaN: a stale entry)
                    if waiting is None:
                        waiting = [cid]
                    else:
                        waiting.append(cid)
            if waiting is None:
                done += 1
                del buckets[number]
                self._entries -= len(bucket)
                continue
            self._entries -= len(bucket) - len(waiting)
            buckets[number] = waiting
            break
        if done:
            del numbers[:done]
        out.sort()
        return _once(out)

    def clear(self) -> None:
        self._last = None
        self._buckets.clear()
        self._numbers.clear()
        self._new.clear()
        self._entries = self._kept = 0


def _once(ids: list[str]) -> list[str]:
    """A sorted list without its repeats."""
    if len(ids) < 2:
        return ids
    out = [ids[0]]
    for cid in ids:
        if cid != out[-1]:
            out.append(cid)
    return out
