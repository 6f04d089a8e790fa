"""RFC 3339 formatting of epoch seconds (UTC, ``Z``), shared by events, alerts and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime


def format_ts(ts: float) -> str:
    """``2026-11-22T14:16:30Z``, with milliseconds only when the time has a fraction."""
    dt = datetime.fromtimestamp(ts, UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_ts_ms(ts: float) -> str:
    """Always with milliseconds (``emitted_at``)."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
