"""A worker that dead-letters a large share of its input says so in its log, once per interval.

Read from the worker's own counters (``churnwatch_events_total``, ``churnwatch_dead_letters_total``):
in each interval, when at least ``MIN_EVENTS`` messages came in and at least
``CHURNWATCH_DEAD_LETTER_WARN_SHARE`` of them went to dead-letters, one WARNING names the share,
the top reason and what to do about it.
"""

from __future__ import annotations

from collections import Counter

from agents.metrics import Metrics
from agents.settings import Clock, Settings
from streams.deadletter import HINTS
from streams.errors import Reason

MIN_EVENTS = 20


def _totals(counter: object, label: str | None) -> Counter[str]:
    out: Counter[str] = Counter()
    for family in counter.collect():  # type: ignore[attr-defined]
        for sample in family.samples:
            if sample.name.endswith("_total"):
                out[sample.labels.get(label, "") if label else ""] += sample.value
    return out


class DeadLetterWatch:
    def __init__(self, metrics: Metrics, settings: Settings) -> None:
        self.metrics = metrics
        self.settings = settings
        self.events = 0.0
        self.reasons: Counter[str] = Counter()

    def check(self) -> str | None:
        """The warning for the interval since the last call, or None."""
        events = sum(_totals(self.metrics.events, None).values())
        reasons = _totals(self.metrics.dead_letters, "reason")
        new_events, self.events = events - self.events, events
        new = reasons - self.reasons
        self.reasons = reasons
        dead = sum(new.values())
        if new_events < MIN_EVENTS or dead < self.settings.dead_letter_warn_share * new_events:
            return None
        reason, count = new.most_common(1)[0]
        hint = HINTS.get(Reason(reason), "") if reason in Reason._value2member_map_ else ""
        if reason == Reason.TOO_LATE and self.settings.clock is Clock.WALL:
            days = self.settings.allowed_lateness_seconds / 86400
            hint = (
                f"this worker runs on the wall clock and takes events at most {days:g} days behind the latest it has "
                "seen (CHURNWATCH_ALLOWED_LATENESS_SECONDS): send history to a worker with CHURNWATCH_CLOCK=event, "
                "or replay it"
            )
        return (
            f"{dead:.0f} of {new_events:.0f} input messages ({100 * dead / new_events:.0f}%) went to the dead-letter "
            f"topic {self.settings.topic('dead_letters')} in the last {self.settings.dead_letter_warn_seconds:g} s; "
            f"top reason {reason} ({count:.0f}): {hint}"
        )
