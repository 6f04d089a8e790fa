"""Risk score and tiers (contract section 5)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

TIER_NAMES = ("healthy", "watch", "at_risk", "critical")
TIER_RANK = {name: rank for rank, name in enumerate(TIER_NAMES)}


def risk_score(weights: Iterable[float]) -> float:
    """``100 × (1 − Π(1 − wᵢ/100))``, rounded to one decimal (a weight of 100 gives 100)."""
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w / 100.0
    return round(100.0 * (1.0 - remaining) + 1e-9, 1) if remaining > 0 else 100.0


@dataclass(frozen=True, slots=True)
class Tiers:
    """Lower bounds of each tier's score; ``healthy`` is below ``watch``."""

    watch: float = 25.0
    at_risk: float = 50.0
    critical: float = 75.0

    def tier(self, score: float) -> str:
        if score >= self.critical:
            return "critical"
        if score >= self.at_risk:
            return "at_risk"
        if score >= self.watch:
            return "watch"
        return "healthy"


def nps(promoters: int, detractors: int, answers: int) -> float | None:
    """% promoters − % detractors of a group with ``answers`` NPS answers (None when empty)."""
    if answers <= 0:
        return None
    value = 100.0 * (promoters - detractors) / answers
    return value if math.isfinite(value) else None
