"""The due-time index: which customers a tick must evaluate (their due times: ``rules.due``).

Customers are kept in buckets of ``BUCKET_SECONDS`` of due time, each a plain list of customer
ids, beside each customer's latest due time. A moved due time leaves the old entry in its bucket,
skipped when the bucket is popped (the latest time no longer falls in it); when stale entries
outnumber the live ones the buckets are rebuilt from the latest times, so the index holds at most
about two entries per customer however many events moved them.

Memory is what this layout is for: a customer costs its entry in the latest-time dict and a list
slot (about 80 bytes at a million customers), where a heap of ``(due, customer)`` tuples cost a
tuple and a slot per entry on top (about 190 bytes).
"""

from __future__ import annotations

import heapq
import math

BUCKET_SECONDS = 60.0


class DueIndex:
    """Customers by due time: push a customer's latest due time, pop those due by a time."""

    def __init__(self, bucket_seconds: float = BUCKET_SECONDS) -> None:
        self._width = bucket_seconds
        self._latest: dict[str, float] = {}
        self._buckets: dict[int, list[str]] = {}  # bucket number -> customer ids (some stale)
        self._numbers: list[int] = []  # heap of the bucket numbers held
        self._entries = 0

    def __len__(self) -> int:
        return len(self._latest)

    def _bucket(self, due: float) -> int:
        return math.floor(due / self._width)

    def push(self, due: float, customer_id: str) -> None:
        """The customer's due time is now ``due`` (any earlier one is forgotten)."""
        latest = self._latest
        old = latest.get(customer_id)
        latest[customer_id] = due
        number = self._bucket(due)
        if old is not None and self._bucket(old) == number:
            return  # its entry in that bucket stands for the new time too
        self._add(number, customer_id)
        if self._entries > 2 * len(latest) + 1024:
            self._rebuild()

    def _add(self, number: int, customer_id: str) -> None:
        bucket = self._buckets.get(number)
        if bucket is None:
            self._buckets[number] = [customer_id]
            heapq.heappush(self._numbers, number)
        else:
            bucket.append(customer_id)
        self._entries += 1

    def _rebuild(self) -> None:
        self._buckets.clear()
        self._numbers.clear()
        self._entries = 0
        for customer_id, due in self._latest.items():
            self._add(self._bucket(due), customer_id)

    def peek(self) -> float | None:
        """A time at or before the earliest due time (the start of its bucket); None when empty."""
        return self._numbers[0] * self._width if self._numbers else None

    def pop_due(self, t: float) -> list[tuple[float, str]]:
        """The customers due at or before ``t``, each once, at its latest due time (a list, not a
        generator: the compiled core's generators cost more than the list)."""
        out: list[tuple[float, str]] = []
        numbers, buckets, latest = self._numbers, self._buckets, self._latest
        while numbers and numbers[0] * self._width <= t:
            number = numbers[0]
            bucket = buckets[number]
            whole = (number + 1) * self._width <= t
            if whole:
                heapq.heappop(numbers)
                del buckets[number]
                self._entries -= len(bucket)
            waiting: list[str] = []
            for cid in bucket:
                due = latest.get(cid)
                if due is None or self._bucket(due) != number:
                    continue  # stale: popped already, or moved to another bucket
                if due <= t:
                    del latest[cid]
                    out.append((due, cid))
                else:
                    waiting.append(cid)
            if whole:
                continue
            self._entries -= len(bucket) - len(waiting)
            if waiting:
                buckets[number] = waiting
            else:
                heapq.heappop(numbers)
                del buckets[number]
            return out
        return out

    def clear(self) -> None:
        self._latest.clear()
        self._buckets.clear()
        self._numbers.clear()
        self._entries = 0
