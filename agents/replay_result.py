"""What a replay found: counts, alerts by status and tier, bad lines, state size and totals, and
the summary line ``churnwatch replay`` prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from agents import core
from agents.emit import stamp
from agents.sorted_events import BadLine
from rules.acknowledgement import Acknowledgement
from rules.aggregates import Totals
from streams.timefmt import format_ts


def unknown_customer(ack: Acknowledgement) -> BadLine:
    """What the report says of an acknowledgement of a customer with no event before it."""
    detail = f"acknowledgement at {format_ts(ack.ts)} of a customer with no event before it"
    return BadLine("<acknowledgements>", 0, "unknown_customer", detail)


@dataclass(slots=True)
class ReplayResult:
    events: int = 0
    duplicates: int = 0
    late: int = 0
    customers: int = 0
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    bad_lines: list[BadLine] = field(default_factory=list)
    seconds: float = 0.0
    state_bytes: int = 0  # encoded state of every customer at the end (all partitions)
    totals: Totals | None = None  # the aggregates at the end (rules.aggregates), all partitions
    acknowledgements: int = 0  # acknowledgement lines applied

    def line(self, alert: dict[str, Any]) -> bytes:
        """The alert stamped (``emitted_at``), counted, and as its JSON line of the output."""
        stamp(alert)
        self.alerts[(alert["status"], alert["tier"])] += 1
        return orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE)

    def summary(self) -> str:
        by = ", ".join(f"{status} {tier}: {n}" for (status, tier), n in sorted(self.alerts.items())) or "none"
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return (
            f"replay: {self.events} events ({self.duplicates} duplicates, {self.late} too late), "
            f"{self.customers} customers, {sum(self.alerts.values())} alerts ({by}), "
            f"{len(self.bad_lines)} bad lines; {self.seconds:.2f} s, {rate:,.0f} events/s; "
            f"state {self.state_bytes / 1e6:,.1f} MB encoded "
            f"({self.state_bytes / max(self.customers, 1):,.0f} B/customer); {core.active()} core"
            + (f"\n{self.totals.line()}" if self.totals is not None else "")
        )
