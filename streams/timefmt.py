"""RFC 3339 formatting of epoch seconds (UTC, ``Z``), shared by events, alerts and dead letters,
and the reading of its commonest form (``streams.parse``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final


def format_ts(ts: float) -> str:
    """``2026-11-22T14:16:30Z``, with milliseconds only when the time has a fraction: the start of
    ``isoformat`` (a tenth of ``strftime``'s cost), which writes the same from year 1000 on."""
    dt = datetime.fromtimestamp(ts, UTC)
    if dt.year < 1000:  # strftime's %Y has no leading zeros there (isoformat's has)
        if dt.microsecond:
            return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if dt.microsecond:
        return dt.isoformat(timespec="milliseconds")[:23] + "Z"
    return dt.isoformat()[:19] + "Z"


def format_ts_ms(ts: float) -> str:
    """Always with milliseconds (``emitted_at``)."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class _Hour:
    """The hour of the last time read in full: its text (``YYYY-MM-DDTHH``) and epoch seconds, one
    tuple (replaced whole: a reader sees both of one hour). Times come in order, most of them in
    the hour before: those read their minutes and seconds only."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[str, int] = ("", 0)


_HOUR: Final = _Hour()
_INVALID: Final = -(1 << 60)  # not an hour (far before year 1)


def utc_seconds(text: str) -> float:
    """The epoch seconds of ``YYYY-MM-DDTHH:MM:SSZ`` (``t`` or a space for the ``T``, ``z`` too) with a
    valid date and time, exactly what ``datetime.fromisoformat`` and ``timestamp()`` give for it (a
    whole number of seconds); -1.0 for any other text, which the general path reads (so does a time
    before 1970, which it rejects)."""
    if len(text) != 20:
        return -1.0
    b = text.encode()
    if len(b) != 20:  # not ASCII
        return -1.0
    if b[19] not in (90, 122) or b[4] != 45 or b[7] != 45 or b[13] != 58 or b[16] != 58:  # Z z - - : :
        return -1.0
    if b[10] != 84 and b[10] != 116 and b[10] != 32:  # T t space (streams.parse rejects any other)
        return -1.0
    minute, second = _two(b, 14), _two(b, 17)
    if minute < 0 or second < 0 or minute > 59 or second > 59:  # (-1: not digits)
        return -1.0
    hour, base = _HOUR.last
    if not hour or not text.startswith(hour):
        base = _hour_start(b)
        if base == _INVALID:
            return -1.0
        _HOUR.last = (text[:13], base)
    return float(base + minute * 60 + second)


def _hour_start(b: bytes) -> int:
    """The epoch seconds of the hour ``b[:13]`` (``YYYY-MM-DD?HH``); ``_INVALID`` for an invalid date or hour."""
    century, year = _two(b, 0), _two(b, 2)
    month, day, hour = _two(b, 5), _two(b, 8), _two(b, 11)
    if century < 0 or year < 0 or hour < 0:  # not digits
        return _INVALID
    year += century * 100
    if year < 1 or not 1 <= month <= 12 or day < 1:
        return _INVALID
    if day > _month_days(year, month) or hour > 23:
        return _INVALID
    # days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days * 86400 + hour * 3600


def _two(b: bytes, i: int) -> int:
    """The two ASCII digits at ``b[i:i + 2]`` as a number; -1 when either is not a digit."""
    hi, lo = b[i] - 48, b[i + 1] - 48
    return hi * 10 + lo if 0 <= hi <= 9 and 0 <= lo <= 9 else -1


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31
