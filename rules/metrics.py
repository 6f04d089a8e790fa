"""How well a ranking foresees churn: the backtest's metrics. Pure functions over lists.

Scores rank customers (higher = riskier); labels are True for churners. Ties are handled the
same way everywhere: a tie counts half in the AUC (mid-ranks), and a top-k% cut that falls
inside a group of equal scores takes that group's churn share for the part it keeps, so a
ranking full of ties is neither rewarded nor punished by the order of equal scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby
from statistics import median

TOP_SHARES = (0.01, 0.05, 0.10)


def _groups(scores: Sequence[float], labels: Sequence[bool]) -> list[tuple[int, int]]:
    """(customers, churners) of each group of equal scores, highest score first."""
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    return [(len(g), sum(1 for _s, y in g if y)) for g in (list(v) for _k, v in groupby(pairs, key=lambda p: p[0]))]


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """P(a random churner scores above a random stayer), ties counting half; None without both."""
    churners = sum(1 for y in labels if y)
    stayers = len(labels) - churners
    if not churners or not stayers:
        return None
    above_stayers = 0  # stayers seen so far (higher scores)
    wins = 0.0
    for n, c in reversed(_groups(scores, labels)):  # lowest score first
        s = n - c
        wins += c * (above_stayers + 0.5 * s)
        above_stayers += s
    return wins / (churners * stayers)


def roc_curve(scores: Sequence[float], labels: Sequence[bool]) -> list[tuple[float, float]]:
    """(false positive rate, true positive rate) at each distinct score, from (0, 0) to (1, 1)."""
    churners = sum(1 for y in labels if y)
    stayers = len(labels) - churners
    points = [(0.0, 0.0)]
    tp = fp = 0
    for n, c in _groups(scores, labels):
        tp += c
        fp += n - c
        points.append((fp / stayers if stayers else 0.0, tp / churners if churners else 0.0))
    return points


def top_precision(scores: Sequence[float], labels: Sequence[bool], share: float) -> float | None:
    """Churn share among the top ``share`` of customers by score (ties: see the module docstring)."""
    want = share * len(labels)
    if want <= 0:
        return None
    taken = 0.0
    churn = 0.0
    for n, c in _groups(scores, labels):
        keep = min(n, want - taken)
        churn += c * keep / n
        taken += keep
        if taken >= want - 1e-9:
            break
    return churn / taken if taken else None


def lift(precision: float | None, base_rate: float) -> float | None:
    return None if precision is None or base_rate <= 0 else precision / base_rate


def lift_curve(scores: Sequence[float], labels: Sequence[bool], steps: int = 50) -> list[tuple[float, float]]:
    """(top share, lift) for shares 1/steps .. 1."""
    base = sum(1 for y in labels if y) / len(labels) if labels else 0.0
    out = []
    for i in range(1, steps + 1):
        value = lift(top_precision(scores, labels, i / steps), base)
        if value is not None:
            out.append((i / steps, value))
    return out


def tier_table(
    tiers: Sequence[str], labels: Sequence[bool], names: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Per tier: customers, churners, precision (churn share in the tier), recall (share of all churners)."""
    churners = sum(1 for y in labels if y)
    out: dict[str, dict[str, float | int | None]] = {}
    for name in names:
        n = sum(1 for t in tiers if t == name)
        c = sum(1 for t, y in zip(tiers, labels, strict=True) if t == name and y)
        out[name] = {
            "customers": n,
            "churners": c,
            "precision": c / n if n else None,
            "recall": c / churners if churners else None,
        }
    return out


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, median, quartiles and the share of non-negative values (lead times, in days)."""
    if not values:
        return {"count": 0, "median": None, "p25": None, "p75": None, "share_non_negative": None}
    ordered = sorted(values)

    def quantile(q: float) -> float:
        pos = q * (len(ordered) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return {
        "count": len(ordered),
        "median": median(ordered),
        "p25": quantile(0.25),
        "p75": quantile(0.75),
        "share_non_negative": sum(1 for v in ordered if v >= 0) / len(ordered),
    }
