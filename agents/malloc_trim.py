"""Freed memory back to the system once a burst of events is over (glibc's ``malloc_trim``).

While a worker works through a backlog, Kafka's fetched batches, the parsed events and their
acknowledgements come and go by the hundred thousand; freed, they stay with the allocator, and
glibc gives the free pages inside its heap back only when asked. The worker asks once its state
flushes find nothing more to write after a burst: the call walks the heap (milliseconds), so it is
made when the worker has nothing else to do, never per flush of a busy worker; a full garbage
collection goes just before it, so the burst's cyclic garbage is freed too. Without glibc
(another libc, another system) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_AFTER = 10_000  # customers written since the last trim before an idle flush trims


def _libc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class Trimmer:
    """Counts what the state flushes write; the first flush with nothing to write after
    ``after`` writes gives the allocator's free memory back."""

    def __init__(self, after: int = TRIM_AFTER, trim: Callable[[int], int] | None = None) -> None:
        self.after = after
        self.trim = trim if trim is not None else _libc_trim()
        self.written = 0  # since the last trim
        self.trims = 0

    def flushed(self, written: int) -> bool:
        """After a state flush that wrote ``written`` keys; whether it trimmed."""
        if written:
            self.written += written
            return False
        if self.written < self.after or self.trim is None:
            return False
        self.written = 0
        started = time.perf_counter()
        gc.collect()  # the burst's cyclic garbage first (the worker's young collections are rare)
        self.trim(0)
        self.trims += 1
        log.debug("malloc_trim after a burst: %.1f ms", 1000 * (time.perf_counter() - started))
        return True
