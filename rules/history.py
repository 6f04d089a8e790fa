"""A customer's history of score and tier changes, and what changed since its previous alert.

History (``CustomerState.history``, a bounded list of compact entries, oldest first):

- ``[t, rank, score, rules]`` — a *snapshot*: at event time ``t`` the evaluated tier became
  ``rank`` or the set of firing rules changed (``rules``: their names in pack order, packed by
  :func:`pack_rules`: the default pack's names as short codes); ``score`` is
  the score then. An entry is appended only when the tier or the set of firing rule names
  changes, not when a graded term moves the score within the same tier and rules (that would
  flood the history). The last snapshot is the "from" side of the next change: no other copy
  of the previous evaluation is kept.
- ``[t, "base", rank, score, rules]`` — the snapshot that the oldest kept change starts
  from, once older entries were dropped (it is not shown as a change itself).
- ``[t, "ack", by, until, rank]`` — acknowledged by ``by`` until ``until`` at tier ``rank``
  (``rules.acknowledgement``); ``[t, "ack_end", reason]`` — it ended (``expired``).

Each entry's ``t`` is stored as seconds after the previous entry's (the first one's as epoch
seconds): 6 digits instead of 10. At most ``limit`` entries are kept besides the base
(``CHURNWATCH_HISTORY_LIMIT``): the oldest go first. Before the first snapshot a customer is
``healthy`` with score 0 and no rules, so a customer that never left that costs no history.

Alert changes: the alert memory (``rules.alerts``) keeps ``[score, rules]`` of the customer's
previous published alert, and its time too (``[score, rules, t]``) when it was a ``resolved``
one (a firing's time is the memory's firing time at the alerted tier); :func:`changes_since`
turns it into the alert's ``changes`` field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from rules.scoring import TIER_NAMES
from streams.timefmt import format_ts

DEFAULT_LIMIT: Final = 16
BASE: Final = "base"
ACK: Final = "ack"
ACK_END: Final = "ack_end"

Entry = list[Any]
Snapshot = tuple[int, float, list[str]]  # (tier rank, score, rule names)
INITIAL: Snapshot = (0, 0.0, [])

# rule ids of the default pack, coded by their position (append only: stored states use them).
# A rule id starts with a letter and holds no comma, so codes and other names never collide.
KNOWN_RULES = (
    "login_inactivity",
    "login_decline",
    "order_gap",
    "payment_failures",
    "chargeback",
    "subscription_downgrade",
    "subscription_cancelled",
    "ticket_spike",
    "urgent_ticket_unresolved",
    "negative_sentiment",
    "nps_detractor",
    "first_order_lapse",
    "order_lapse",
    "low_expected_orders",
)
_CODE: Final = {name: str(i) for i, name in enumerate(KNOWN_RULES)}


def pack_rules(names: Iterable[str]) -> str:
    """Rule names as one string: ``"0,9"`` for login_inactivity and negative_sentiment (a list
    comprehension: compiled, a generator is an object built and stepped per name)."""
    return ",".join([_CODE.get(name, name) for name in names])


def unpack_rules(packed: str | list[str]) -> list[str]:
    if isinstance(packed, list):
        return packed
    return [KNOWN_RULES[int(c)] if c.isdigit() else c for c in packed.split(",")] if packed else []


def _int_time(t: float) -> int | float:
    """Times are kept as integers when whole (smaller encoding), to the millisecond otherwise."""
    return int(t) if float(t).is_integer() else round(t, 3)


def _absolute(history: Sequence[Entry]) -> list[int | float]:
    """The entries' epoch times (stored as differences)."""
    out: list[int | float] = []
    at: int | float = 0
    for entry in history:
        at = _int_time(at + entry[0])
        out.append(at)
    return out


def _push(history: list[Entry], entry: Entry) -> None:
    """Append an entry given with its epoch time."""
    last = _absolute(history)[-1] if history else 0
    history.append([_int_time(entry[0] - last), *entry[1:]])


def _rebuild(entries_at: list[Entry]) -> list[Entry]:
    """Entries given with epoch times, stored as differences."""
    out: list[Entry] = []
    for entry in entries_at:
        _push(out, entry)
    return out


def last_snapshot(history: Sequence[Entry]) -> Snapshot:
    """The latest evaluated (tier rank, score, rule names) the history holds; the initial one without."""
    for entry in reversed(history):
        kind = entry[1]
        if isinstance(kind, int):
            return kind, entry[2], unpack_rules(entry[3])
        if kind == BASE:
            return entry[2], entry[3], unpack_rules(entry[4])
    return INITIAL


def record(history: list[Entry], t: float, rank: int, score: float, rules: list[str], limit: int) -> bool:
    """Append a snapshot when the tier or the set of firing rules differs from the last one;
    True when one was appended."""
    if not history:
        if rank == 0 and not rules:  # the initial snapshot: most customers, most evaluations
            return False
    else:
        last = history[-1]
        kind = last[1]
        # the last entry a snapshot of this tier and these very rules (most evaluations of a customer
        # with a history): no unpacking of its rules (names are packed one way only)
        if isinstance(kind, int) and kind == rank and last[3] == (pack_rules(rules) if rules else ""):
            return False
    last_rank, _score, last_rules = last_snapshot(history)
    if rank == last_rank and (rules == last_rules or set(rules) == set(last_rules)):
        return False
    _push(history, [t, rank, score, pack_rules(rules)])
    trim(history, limit)
    return True


def append(history: list[Entry], entry: Entry, limit: int) -> None:
    """Append an acknowledgement entry (``rules.acknowledgement``), given with its epoch time."""
    _push(history, entry)
    trim(history, limit)


def trim(history: list[Entry], limit: int) -> None:
    """Keep the newest ``limit`` entries, and a base: the last snapshot among those dropped (or
    the previous base), so the oldest kept change still knows where it started."""
    has_base = bool(history) and history[0][1] == BASE
    excess = len(history) - has_base - max(limit, 1)
    if excess <= 0:
        return
    at = [[t, *entry[1:]] for t, entry in zip(_absolute(history), history, strict=True)]
    dropped, kept = at[: has_base + excess], at[has_base + excess :]
    base = last_snapshot(dropped)
    if base != INITIAL:
        start = [e for e in dropped if isinstance(e[1], int) or e[1] == BASE][-1]
        kept.insert(0, [start[0], BASE, base[0], base[1], pack_rules(base[2])])
    history[:] = _rebuild(kept)


def _diff(old: Iterable[str], new: Iterable[str]) -> tuple[list[str], list[str]]:
    old_list, new_list = list(old), list(new)
    return [r for r in new_list if r not in old_list], [r for r in old_list if r not in new_list]


def entries(history: Sequence[Entry]) -> list[dict[str, Any]]:
    """The history as the HTTP API shows it, oldest first."""
    out: list[dict[str, Any]] = []
    prev = INITIAL
    for t, entry in zip(_absolute(history), history, strict=True):
        kind = entry[1]
        if kind == BASE:
            prev = (entry[2], entry[3], unpack_rules(entry[4]))
        elif isinstance(kind, int):
            rules = unpack_rules(entry[3])
            added, removed = _diff(prev[2], rules)
            out.append(
                {
                    "type": "change",
                    "at": format_ts(t),
                    "from_tier": TIER_NAMES[prev[0]],
                    "to_tier": TIER_NAMES[kind],
                    "from_score": prev[1],
                    "to_score": entry[2],
                    "rules_added": added,
                    "rules_removed": removed,
                }
            )
            prev = (kind, entry[2], rules)
        elif kind == ACK:
            out.append(
                {
                    "type": "acknowledged",
                    "at": format_ts(t),
                    "by": entry[2],
                    "until": format_ts(entry[3]),
                    "tier": TIER_NAMES[entry[4]],
                }
            )
        elif kind == ACK_END:
            out.append({"type": "acknowledgement_ended", "at": format_ts(t), "reason": entry[2]})
    return out


# -- what changed since the previous alert ------------------------------------------------------


def changes_since(
    previous: Sequence[Any] | None, fired: float | None, previous_tier: str, score: float, rules: list[str]
) -> dict[str, Any]:
    """The alert's ``changes``: the previous alert's score, tier and time (null score and time
    for a customer's first alert, whose previous tier is ``healthy``), and the rules that fire
    now and did not then, and the reverse (in pack order; the previous alert's order for removed).
    ``previous`` is what :func:`remembered` kept, ``fired`` the firing time at the alerted tier."""
    if previous:
        prev_score, prev_rules = previous[0], unpack_rules(previous[1])
        t = previous[2] if len(previous) > 2 else fired
    else:
        t, prev_score, prev_rules = None, None, []
    added, removed = _diff(prev_rules, rules)
    return {
        "previous_score": prev_score,
        "previous_tier": previous_tier,
        "previous_event_time": format_ts(t) if t is not None else None,
        "rules_added": added,
        "rules_removed": removed,
    }


def remembered(t: float, score: float, rules: list[str], firing: bool) -> list[Any]:
    """What the alert memory keeps of a published alert for the next alert's ``changes``: its
    score and rules, and its time for a ``resolved`` one (a firing's is in the memory already)."""
    kept: list[Any] = [score, pack_rules(rules)]
    if not firing:
        kept.append(_int_time(t))
    return kept
