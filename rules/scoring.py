"""Risk score and tiers (contract section 5).

- Score: ``100 × (1 − Π(1 − wᵢ/100))`` over the firing rules' weights, rounded half up to one
  decimal (51.25 -> 51.3); a weight of 100 gives exactly 100.0, no rule gives 0.0.
- Tier: from the *rounded* score, by the pack's lower bounds (default ``healthy`` < 25 ≤ ``watch``
  < 50 ≤ ``at_risk`` < 75 ≤ ``critical``), so the score a reader sees always matches its tier
  (a raw 24.96 shows as 25.0 and is ``watch``). Deterministic: the same weights in any order give
  the same score up to floating point, and the rounding step absorbs that noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

TIER_NAMES: Final = ("healthy", "watch", "at_risk", "critical")
TIER_RANK: Final = {name: rank for rank, name in enumerate(TIER_NAMES)}


def score_from_remaining(remaining: float) -> float:
    """The rounded score when ``remaining`` = Π(1 − wᵢ/100)."""
    if remaining <= 0.0:
        return 100.0
    if remaining >= 1.0:
        return 0.0
    # half up at one decimal (k / 10 is the double nearest to the decimal k/10, as round() gives);
    # the epsilon undoes binary noise such as 51.249999999
    return math.floor(1000.0 * (1.0 - remaining) + 0.5 + 1e-7) / 10.0


def risk_score(weights: Iterable[float]) -> float:
    """``100 × (1 − Π(1 − wᵢ/100))``, rounded half up to one decimal (a weight of 100 gives 100)."""
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w / 100.0
    return score_from_remaining(remaining)


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
