"""The one place an alert is stamped on its way out: ``emitted_at``, the wall-clock time the
worker or replay published it (contract section 6; the engine's alerts carry everything else)."""

from __future__ import annotations

import time
from typing import Any

from streams.timefmt import format_ts_ms


def stamp(alert: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Set ``emitted_at`` (``now``, default the wall clock) and return the alert."""
    alert["emitted_at"] = format_ts_ms(time.time() if now is None else now)
    return alert
