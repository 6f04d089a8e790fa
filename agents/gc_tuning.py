"""The cyclic garbage collector, tuned for long runs over many customers.

Per-event garbage is freed by reference counting; the cyclic collector's passes over every live
object (decoded customer states, the sorted input chunk) cost time in proportion to the number
of customers and showed up in the worker's p99. Both doors collect the young generation less
often, and keep what was loaded at start-up out of the full passes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLDS = (50_000, 20, 100)  # Python's defaults: (700, 10, 10)
# Replay: a young collection only after a million more objects than were freed. The customers held
# decoded between two commits (about ten objects each) are freed by reference counting at the
# commit, and no replay measured any cyclic garbage (0 objects collected over 533,678 events at
# 100k customers); at 50,000 the held customers' objects set off a young collection every few
# thousand events (98 at 100k customers, 9% of the replay's CPU) that found nothing to free.
REPLAY_THRESHOLDS = (1_000_000, 20, 100)


def quiet_gc(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """From now on: start-up objects frozen out of the collector, young collections less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


@contextmanager
def quiet_gc_during() -> Iterator[None]:
    """``quiet_gc`` with the replay's thresholds for a block, the previous thresholds back after it."""
    before = gc.get_threshold()
    quiet_gc(REPLAY_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
