"""The alert lifecycle of contract section 6: alerted tier, cooldown, resolve, ``alert_id``.

Per customer the engine keeps a small *memory* (:class:`rules.records.AlertMemory`), stored
inside the customer's state: the alerted tier's rank, the last firing time per tier rank
(healthy's unused; kept as integers when whole), and the score and rules (and, for a
``resolved`` one, the time) of the customer's last published alert, for the next alert's
``changes`` (``rules.history.remembered``). ``new_memory()`` is alerted tier ``healthy``, never
fired.

:func:`decide` applies one evaluation (at event time ``t``) and returns the new memory and the
alert to publish, if any:

- the tier rises above the alerted tier -> a ``firing`` alert (``previous_tier`` = the alerted
  tier), the alerted tier becomes the tier and the firing time is recorded for that tier — unless
  a firing at that tier or a higher one was published less than ``cooldown`` seconds before
  ``t`` (``t - fired < cooldown``; at exactly ``cooldown`` it fires again): then nothing is
  published and the memory does not change;
- the tier is ``healthy`` and the alerted tier is higher -> a ``resolved`` alert (``tier``
  ``healthy``, ``previous_tier`` the alerted tier); the alerted tier becomes ``healthy`` (the firing
  times are kept: they are what the cooldown looks at);
- anything else (a fall to a tier above healthy, the same tier, a rise suppressed) -> nothing.

The alert is the dict of contract section 6 without ``emitted_at`` (the adapter adds it):

- ``alert_id``: the first 32 hex digits of SHA-256 over the JSON array [customer_id, status, tier,
  previous_tier, event_time, [risk_score, rules, signals, revenue_at_risk]]: the same input gives
  the same id, and an id never stands for two contents. (With the wall clock, the same transition
  at the same time can be decided twice on different evidence, e.g. when a crash makes two topics'
  events arrive in another order: those are two alerts, with two ids.)
- ``event_time``: RFC 3339 UTC ``Z``, with milliseconds only when ``t`` has a fraction;
- ``risk_score``: the evaluation's (rounded) score; ``rules``: its hits (for ``resolved``, the
  rules still firing below the watch threshold, usually none);
- ``signals``: every signal given, floats rounded to 4 decimals;
- ``revenue_at_risk`` = customer_value × risk_score / 100 rounded to 2 decimals, ``0.0`` when the
  customer value is null (not enough order history to estimate it);
- ``changes``: what changed since the customer's previous alert (``rules.history.changes_since``),
  part of the evidence ``alert_id`` hashes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from rules.history import changes_since, remembered
from rules.pack import Evaluation
from rules.records import NEW_MEMORY, AlertMemory, round_places
from rules.scoring import TIER_NAMES, TIER_RANK
from streams.timefmt import format_ts

SCHEMA_VERSION = 1

# every signal of the customer, or a function computing them (called only when an alert is built)
Signals = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
MemoryLike = AlertMemory | Sequence[Any] | None  # what storage may give back


def new_memory() -> AlertMemory:
    """A customer never alerted: alerted tier ``healthy``, no firing yet."""
    return NEW_MEMORY


def alerted_tier(memory: MemoryLike) -> str:
    return TIER_NAMES[AlertMemory.of(memory).tier]


def alert_id(
    customer_id: str, status: str, tier: str, previous_tier: str, event_time: str, evidence: Any = None
) -> str:
    """Deterministic: the same customer, transition, time and evidence (score, rules, signals) give
    the same id (32 hex digits); an alert that differs in anything but ``emitted_at`` gets another.

    The fields are hashed as a JSON array (keys sorted), so no customer id can shift a field
    boundary."""
    fields: list[Any] = [customer_id, status, tier, previous_tier, event_time]
    if evidence is not None:
        fields.append(evidence)
    h = _SHA256_COPY(_SHA256)
    _SHA256_UPDATE(h, orjson.dumps(fields, option=orjson.OPT_SORT_KEYS))
    digest: str = _SHA256_HEXDIGEST(h)
    return digest[:32]


_SHA256: Final = hashlib.sha256()  # copied per alert: OpenSSL's set-up of a new SHA-256 costs more than the hash
_SHA256_COPY: Final = type(_SHA256).copy  # its methods as functions (compiled: no lookup by name per call)
_SHA256_UPDATE: Final = type(_SHA256).update
_SHA256_HEXDIGEST: Final = type(_SHA256).hexdigest


def _display(value: Any) -> Any:
    """``round(value, 4)`` of a float. Half of them have at most 4 decimals already: the double nearest
    ``n / 10**4`` for an ``n`` (then ``round`` gives ``value`` itself: below 1e11 half an ulp is under
    5e-5), told without ``round``'s conversions to decimal and back (compiled: a tenth of the cost)."""
    if not isinstance(value, float):
        return value
    if -1e11 < value < 1e11:
        r = value * 10000.0
        if math.floor(r + 0.5) / 10000.0 == value:
            return value
    return round_places(value, 4)


def revenue_at_risk(customer_value: float | None, score: float) -> float:
    """``customer_value × score / 100`` to the cent; 0.0 without a customer value."""
    if customer_value is None:
        return 0.0
    return round_places(customer_value * score / 100.0, 2)


def build_alert(
    *,
    customer_id: str,
    status: str,
    tier: str,
    previous_tier: str,
    t: float,
    evaluation: Evaluation,
    signals: Signals,
    customer_value: float | None = None,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The alert dict (contract section 6, without ``emitted_at``), with ``changes`` when given."""
    event_time = format_ts(t)
    if callable(signals):
        signals = signals()
    if customer_value is None:
        customer_value = signals.get("customer_value")
    rules = [{**hit.as_dict(), "value": _display(hit.value)} for hit in evaluation.hits]
    shown = dict(signals)  # (a copy made at its size; a comprehension grows it step by step)
    for k, v in signals.items():
        if isinstance(v, float):
            shown[k] = _display(v)
    rar = revenue_at_risk(customer_value, evaluation.score)
    evidence: list[Any] = [evaluation.score, rules, shown, rar]
    if changes is not None:
        evidence.append(changes)
    alert = {
        "schema_version": SCHEMA_VERSION,
        "alert_id": alert_id(customer_id, status, tier, previous_tier, event_time, evidence),
        "customer_id": customer_id,
        "status": status,
        "tier": tier,
        "previous_tier": previous_tier,
        "risk_score": evaluation.score,
        "event_time": event_time,
        "rules": rules,
        "signals": shown,
        "revenue_at_risk": rar,
    }
    if changes is not None:
        alert["changes"] = changes
    return alert


def cooldown_until(memory: MemoryLike, rank: int, t: float, cooldown: float) -> float | None:
    """While a firing at tier ``rank`` or higher is within the cooldown at ``t``: when that ends."""
    fired = AlertMemory.of(memory).fired
    ends = [x + cooldown for x in fired[rank:] if x is not None and t - x < cooldown]
    return max(ends) if ends else None


def decide(
    memory: MemoryLike,
    evaluation: Evaluation,
    *,
    customer_id: str,
    t: float,
    cooldown: float,
    signals: Signals,
    customer_value: float | None = None,
) -> tuple[AlertMemory, dict[str, Any] | None]:
    """Apply one evaluation at event time ``t``: ``(new memory, alert or None)``.

    The given memory is not modified. ``signals`` (all of them: the alert carries them) may be a
    function that computes them, so that an engine evaluating the pack on the signals it uses
    computes the rest only for the rare evaluation that publishes an alert. ``customer_value``
    defaults to ``signals["customer_value"]``.
    """
    memory = AlertMemory.of(memory)
    rank = TIER_RANK[evaluation.tier]
    alerted = memory.tier
    publish = rank > alerted and cooldown_until(memory, rank, t, cooldown) is None
    if not publish and not (rank == 0 and alerted > 0):
        return memory, None
    names = [hit.rule for hit in evaluation.hits]
    changes = changes_since(memory.previous, memory.fired[alerted], TIER_NAMES[alerted], evaluation.score, names)
    last = remembered(t, evaluation.score, names, firing=publish)
    if publish:
        fired = list(memory.fired)
        fired[rank] = int(t) if float(t).is_integer() else t
        status, tier, after = "firing", evaluation.tier, AlertMemory(rank, tuple(fired), last)
    else:
        status, tier, after = "resolved", "healthy", AlertMemory(0, memory.fired, last)
    alert = build_alert(
        customer_id=customer_id,
        status=status,
        tier=tier,
        previous_tier=TIER_NAMES[alerted],
        t=t,
        evaluation=evaluation,
        signals=signals,
        customer_value=customer_value,
        changes=changes,
    )
    return after, alert
