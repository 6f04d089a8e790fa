"""Acknowledging (snoozing) a customer: the request, its record in the state, suppression, expiry.

An acknowledgement says "``by`` has seen this customer; do not alert again until ``until``
unless it gets worse". In the customer's state (``CustomerState.ack``, changelogged with the
rest of it) it is ``[at, until, rank, by, note]``: ``rank`` is the *acknowledged tier*, the
highest of the customer's alerted tier, its evaluated tier, and the tier of its latest firing
alert when acknowledged (what its owner last saw: acknowledging after a ``resolved`` still
covers a relapse to the tier that fired).

While ``t < until`` (event time of the evaluation):

- a ``firing`` alert at the acknowledged tier or below is not published, and, as with the
  cooldown, nothing changes (the alerted tier stays): if the customer is still above its alerted
  tier when the acknowledgement ends, the alert comes then;
- a ``firing`` alert above the acknowledged tier (worse) is published; the acknowledgement stays
  for the tiers it covers;
- ``resolved`` alerts are published and do not end the acknowledgement: a consumer that tracks
  open alerts needs them, and ending the snooze on a recovery would let the next relapse of a
  flapping customer nag again, which is what the snooze is for (the alert lifecycle only repeats
  a firing after a ``resolved``).

It ends when an evaluation at or after ``until`` sees it (the history then gets an entry at
``until``), or when a new acknowledgement replaces it. The engine evaluates the customer at the
first tick at or after ``until`` (``due``), so a suppressed alert is published on time.

Requests (HTTP and replay lines) are validated here: ``by`` 1..128 characters, ``until`` an
RFC 3339 time with offset or a duration (``90m``, ``12h``, ``7d``, ``2w``; at most
``MAX_SECONDS``) after the acknowledgement time, ``note`` at most ``MAX_NOTE`` characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules import history
from rules.records import AlertMemory
from rules.scoring import TIER_NAMES, TIER_RANK
from streams.errors import BadInput, Reason
from streams.parse import parse_ts
from streams.timefmt import format_ts

MAX_BY = 128
MAX_NOTE = 500
MAX_SECONDS = 366 * 86400  # an acknowledgement lasts at most about a year
FIELDS = frozenset({"by", "until", "note"})
_DURATION = re.compile(r"^([0-9]{1,6})([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A validated acknowledgement of ``customer_id`` at event time ``ts``."""

    customer_id: str
    ts: float
    by: str
    until: float
    note: str | None = None


class BadAcknowledgement(ValueError):
    """A request that cannot be an acknowledgement; ``field`` names the culprit."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def parse_until(value: Any, at: float) -> float:
    """``until`` as epoch seconds: an RFC 3339 time with offset, or a duration after ``at``."""
    if isinstance(value, str) and (m := _DURATION.match(value.strip())):
        until = at + int(m.group(1)) * _UNIT[m.group(2)]
    elif isinstance(value, str):
        try:
            until = parse_ts(value)
        except BadInput:
            raise BadAcknowledgement(
                "until", 'expected an RFC 3339 time with offset ("2026-12-01T00:00:00Z") or a duration like "7d"'
            ) from None
    else:
        raise BadAcknowledgement("until", 'expected a string: an RFC 3339 time with offset or a duration like "7d"')
    if until <= at:
        raise BadAcknowledgement("until", f"must be after the acknowledgement time {format_ts(at)}")
    if until - at > MAX_SECONDS:
        raise BadAcknowledgement("until", f"at most {MAX_SECONDS // 86400} days after the acknowledgement time")
    return until


def parse_request(customer_id: str, body: Any, at: float) -> Acknowledgement:
    """An acknowledgement from a request body (a JSON object) made at event time ``at``."""
    if not isinstance(body, Mapping):
        raise BadAcknowledgement("body", 'expected a JSON object {"by": .., "until": .., "note": ..}')
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadAcknowledgement(unknown[0], f"unknown field {unknown[0]!r} (allowed: by, until, note)")
    by = body.get("by")
    if not isinstance(by, str) or not by.strip() or len(by) > MAX_BY:
        raise BadAcknowledgement("by", f"expected a non-empty string of at most {MAX_BY} characters")
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise BadAcknowledgement("note", f"expected a string of at most {MAX_NOTE} characters")
    if "until" not in body:
        raise BadAcknowledgement("until", 'required: an RFC 3339 time with offset or a duration like "7d"')
    return Acknowledgement(customer_id, at, by.strip(), parse_until(body["until"], at), note or None)


def parse_line_object(obj: Mapping[str, Any]) -> Acknowledgement:
    """A replay line ``{"type": "acknowledgement", "customer_id", "ts", "by", "until", "note"}``
    (``until`` may be a duration after ``ts``); bad input raises ``BadInput`` (schema)."""
    cid = obj.get("customer_id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 128:
        raise BadInput(Reason.SCHEMA, 'field "customer_id": expected a string of 1..128 characters')
    ts = parse_ts(obj.get("ts"))
    try:
        return parse_request(cid, {k: v for k, v in obj.items() if k not in ("type", "customer_id", "ts")}, ts)
    except BadAcknowledgement as exc:
        raise BadInput(Reason.SCHEMA, f'field "{exc.field}": {exc.detail}') from None


# -- in the engine ---------------------------------------------------------------------------


def apply(state: Any, ack: Acknowledgement, limit: int) -> None:
    """Record ``ack`` in the customer's state (replacing any) and in its history."""
    memory = AlertMemory.of(state.alert)
    rank = max(memory.tier, int(state.tier), _last_fired_rank(memory))
    at, until = history._int_time(ack.ts), history._int_time(ack.until)
    state.ack = [at, until, rank, ack.by, ack.note]
    history.append(state.history, [at, history.ACK, ack.by, until, rank], limit)


def _last_fired_rank(memory: AlertMemory) -> int:
    """The tier of the latest firing alert in an alert memory (``rules.alerts``), 0 without."""
    times = [(t, rank) for rank, t in enumerate(memory.fired) if t is not None]
    return max(times)[1] if times else 0


def active(record: list[Any] | None, t: float) -> bool:
    return record is not None and t < record[1]


def expire(state: Any, t: float, limit: int) -> None:
    """End the acknowledgement when ``t`` reached its ``until`` (history: at ``until``)."""
    record = state.ack
    if record is not None and t >= record[1]:
        state.ack = None
        history.append(state.history, [record[1], history.ACK_END, "expired"], limit)


def screen(
    record: list[Any] | None, t: float, before: AlertMemory, after: AlertMemory, alert: dict[str, Any] | None
) -> tuple[AlertMemory, dict[str, Any] | None]:
    """The alert memory and alert to keep: a firing at or below an active acknowledgement's tier
    is dropped and the memory stays as it was."""
    if alert is not None and alert["status"] == "firing" and active(record, t):
        assert record is not None
        if TIER_RANK[alert["tier"]] <= record[2]:
            return before, None
    return after, alert


def due(record: list[Any] | None, due: float | None) -> float | None:
    """The customer must be evaluated again by the acknowledgement's end."""
    if record is None:
        return due
    return record[1] if due is None else min(due, record[1])


def view(record: list[Any] | None, t: float) -> dict[str, Any] | None:
    """The acknowledgement as ``/customers/{id}`` shows it (null once ended at ``t``)."""
    if not active(record, t):
        return None
    assert record is not None
    at, until, rank, by, note = record
    return {"by": by, "at": format_ts(at), "until": format_ts(until), "tier": TIER_NAMES[rank], "note": note}
