"""The alert lifecycle of contract section 6: alerted tier, cooldown, resolve, ``alert_id``.

Per customer the engine keeps a small memory ``[alerted tier rank, [last firing time per tier]]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from rules.pack import Evaluation
from rules.scoring import TIER_NAMES, TIER_RANK
from streams.timefmt import format_ts

SCHEMA_VERSION = 1


def new_memory() -> list[Any]:
    return [0, [None, None, None, None]]


def alert_id(customer_id: str, status: str, tier: str, previous_tier: str, event_time: str) -> str:
    """Deterministic: the same customer, transition and time give the same id."""
    text = "\x1f".join((customer_id, status, tier, previous_tier, event_time))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _display(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def build_alert(
    *,
    customer_id: str,
    status: str,
    tier: str,
    previous_tier: str,
    t: float,
    evaluation: Evaluation,
    signals: Mapping[str, Any],
) -> dict[str, Any]:
    event_time = format_ts(t)
    value = signals.get("customer_value")
    rar = round(value * evaluation.score / 100.0, 2) if value else 0.0
    return {
        "schema_version": SCHEMA_VERSION,
        "alert_id": alert_id(customer_id, status, tier, previous_tier, event_time),
        "customer_id": customer_id,
        "status": status,
        "tier": tier,
        "previous_tier": previous_tier,
        "risk_score": evaluation.score,
        "event_time": event_time,
        "rules": [{**hit.as_dict(), "value": _display(hit.value)} for hit in evaluation.hits],
        "signals": {k: _display(v) for k, v in signals.items()},
        "revenue_at_risk": rar,
    }


def cooldown_until(memory: list[Any], rank: int, t: float, cooldown: float) -> float | None:
    """While a firing at ``rank`` or higher is within the cooldown: when that ends."""
    ends = [fired + cooldown for fired in memory[1][rank:] if fired is not None and t - fired < cooldown]
    return max(ends) if ends else None


def decide(
    memory: list[Any],
    evaluation: Evaluation,
    *,
    customer_id: str,
    t: float,
    cooldown: float,
    signals: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Apply one evaluation to the memory (in place); the alert to publish, if any."""
    rank = TIER_RANK[evaluation.tier]
    alerted = memory[0]
    if rank > alerted:
        if cooldown_until(memory, rank, t, cooldown) is not None:
            return None
        memory[0] = rank
        memory[1][rank] = t
        return build_alert(
            customer_id=customer_id,
            status="firing",
            tier=evaluation.tier,
            previous_tier=TIER_NAMES[alerted],
            t=t,
            evaluation=evaluation,
            signals=signals,
        )
    if rank == 0 and alerted > 0:
        memory[0] = 0
        return build_alert(
            customer_id=customer_id,
            status="resolved",
            tier="healthy",
            previous_tier=TIER_NAMES[alerted],
            t=t,
            evaluation=evaluation,
            signals=signals,
        )
    return None
