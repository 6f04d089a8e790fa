"""``format_ts`` writes what ``strftime`` wrote before (it reads the start of ``isoformat`` now):
whole seconds without a fraction, milliseconds truncated, years before 1000 without leading zeros."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from streams.timefmt import format_ts


def _strftime(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@given(st.floats(-62_135_596_800, 253_402_300_799) | st.integers(-62_135_596_800, 253_402_300_799).map(float))
def test_format_ts_writes_what_strftime_wrote(ts: float) -> None:
    assert format_ts(ts) == _strftime(ts)


def test_format_ts_examples() -> None:
    assert format_ts(1_790_000_000) == "2026-09-21T14:13:20Z"
    assert format_ts(1_790_000_000.1239) == "2026-09-21T14:13:20.123Z"
    assert format_ts(0.0) == "1970-01-01T00:00:00Z"
    assert format_ts(-50_000_000_000.5) == _strftime(-50_000_000_000.5)  # the year 385
