"""Rule weights learned from backtest labels (``churnwatch fit --propose``): a proposal a person
reviews, never applied by itself.

The score ``100 × (1 − Π(1 − wᵢ/100))`` ranks customers like the sum of ``gᵢ = −ln(1 − wᵢ/100)``
over the firing rules: a logistic model in disguise. So each rule's weight is rescaled by a factor
``βᵢ ≥ 0`` on that scale, fitted by maximum likelihood (``logit P(churn) = β₀ + Σ βᵢ gᵢ``) on the
customers' firing rules at a cut-off and their labels; the new weight is ``100 × (1 − (1 −
wᵢ/100)^βᵢ)`` (for a graded rule, its weight and min_weight alike). A rule that fired for fewer
than ``MIN_FIRED`` customers keeps its weight. Pure: hits and labels in, weights out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

MIN_FIRED = 20
MAX_WEIGHT = 99.0  # 100 would make a rule decide alone


def _g(weight: float) -> float:
    return -math.log(max(1e-9, 1.0 - min(weight, MAX_WEIGHT) / 100.0))


def scale_weight(weight: float, factor: float) -> float:
    """The weight whose g is ``factor`` times this weight's g, rounded to 0.1 and at most MAX_WEIGHT."""
    return round(min(MAX_WEIGHT, 100.0 * (1.0 - (1.0 - min(weight, MAX_WEIGHT) / 100.0) ** factor)), 1)


def propose_factors(hits: Sequence[dict[str, float]], labels: Sequence[bool]) -> dict[str, float]:
    """Per rule that fired for at least MIN_FIRED customers, the fitted factor βᵢ (≥ 0).

    ``hits[k]`` maps the rules that fired for customer k to the weight each had."""
    counts: dict[str, int] = {}
    for row in hits:
        for rule in row:
            counts[rule] = counts.get(rule, 0) + 1
    rules = sorted(r for r, n in counts.items() if n >= MIN_FIRED)
    if not rules or len(set(labels)) < 2:
        return {}
    x = np.array([[_g(row.get(r, 0.0)) for r in rules] for row in hits], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)

    def loss(w: np.ndarray) -> float:
        z = w[0] + x @ w[1:]
        return float(np.sum(np.logaddexp(0.0, z) - y * z)) / len(y) + 1e-4 * float(np.sum(w[1:] ** 2))

    start = np.concatenate([[0.0], np.ones(len(rules))])
    bounds = [(None, None)] + [(0.0, 20.0)] * len(rules)
    result = minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    return {rule: float(beta) for rule, beta in zip(rules, result.x[1:], strict=True)}
