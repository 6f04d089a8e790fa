"""``python -m bench.evaluate_tuning``: the checks behind the default pack and its model, on the
*tuning* part of the CDNOW sample only (README: "Does it find real churners?").

The held-out customers (``agents.backtest.in_holdout``, 30%) are dropped as soon as the data is
read, so nothing here can be chosen on them. For each cut-off of ``make evaluate``:

1. **Is there information the purchase models ignore?** Within each group of customers by
   number of orders (1, 2, 3 or more), a logistic regression on recency (and, for repeat
   buyers, the time between first and last order, the age and log orders) against the same plus
   one candidate: the mean order value, the items (CDs) per order, rows per order day (several
   lines on one day), the "overdue" ratio (days since the last order ÷ mean gap), the spread of
   the gaps (coefficient of variation), the trend of order value (last ÷ mean of the earlier).
   AUC out of sample: 5-fold cross-validation, repeated 10 times, the mean of the folds' AUCs.
2. **Which purchase model ranks churners best on its own?** Minus the expected orders within
   the horizon of BG/NBD, MBG/NBD and Pareto/NBD (each fitted, without labels, on all
   customers' orders before the cut-off), with a paired bootstrap against BG/NBD.
3. **How much does tuning flatter the pack?** The tuning part is split in halves 20 times; on
   one half a grid of the pack's five CDNOW weights is searched (the largest smallest margin
   over BG/NBD across both cut-offs, as the pack was chosen), and on the other half that pack,
   Pareto/NBD alone and MBG/NBD alone are measured against BG/NBD. The pack's score is computed
   here by the same formula as the engine's (checked against the engine's scores of the default
   pack first).

Prints Markdown and writes it to ``bench/results/evaluate-tuning.md``.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from agents.backtest import Variant, in_holdout, run_variant
from agents.cdnow import sample_path
from agents.pack_file import load_pack
from agents.replay import read_events
from bench.evaluate import CUTOFFS, HOLDOUT, HORIZON_DAYS, RESULTS, _auc, _events, paired_bootstrap
from rules.engine import EngineConfig
from rules.fit import fit, histories
from rules.labels import LabelRule, activities, churned
from rules.model import BuyingModel, History, expected_orders
from rules.pack.model import Graded
from rules.scoring import score_from_remaining
from rules.state import DAY
from streams.parse import Limits

Array = NDArray[np.float64]
FOLDS, REPEATS, SPLITS = 5, 10, 20


@dataclass(slots=True)
class Customer:
    """One tuning customer at one cut-off: its orders before it (one per day) and its label."""

    days: list[float]
    items: list[int]
    amounts: list[float]
    rows: list[int]
    churned: bool
    features: dict[str, float] = field(default_factory=dict)


def _raw() -> dict[str, list[tuple[float, int, float]]]:
    out: dict[str, list[tuple[float, int, float]]] = {}
    for line in sample_path().read_text().splitlines():
        if line.strip():
            cid, _index, day, cds, dollars = line.split()
            ts = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC).timestamp()
            out.setdefault(cid, []).append((ts, int(cds), float(dollars)))
    return out


def _customers(
    raw: dict[str, list[tuple[float, int, float]]], labels: dict[str, bool], at: float
) -> dict[str, Customer]:
    out = {}
    for cid, rows in raw.items():
        if in_holdout(cid, HOLDOUT) or cid not in labels:
            continue
        by_day: dict[float, list[tuple[int, float]]] = {}
        for ts, cds, dollars in rows:
            if ts < at:
                by_day.setdefault(ts, []).append((cds, dollars))
        days = sorted(by_day)
        if days:
            items = [sum(c for c, _ in by_day[d]) for d in days]
            amounts = [sum(a for _, a in by_day[d]) for d in days]
            out[cid] = Customer(days, items, amounts, [len(by_day[d]) for d in days], labels[cid])
    return out


def _features(c: Customer, at: float) -> dict[str, float]:
    n = len(c.days)
    recency = (at - c.days[-1]) / DAY
    span = (c.days[-1] - c.days[0]) / DAY
    gaps = [(b - a) / DAY for a, b in itertools.pairwise(c.days)]
    mean_gap = span / (n - 1) if n > 1 else 0.0
    spread = float(np.std(gaps) / np.mean(gaps)) if len(gaps) >= 2 and np.mean(gaps) > 0 else 0.0
    trend = math.log(c.amounts[-1] / float(np.mean(c.amounts[:-1])) + 1e-3) if n > 1 else 0.0
    return {
        "n": n,
        "recency": recency,
        "log_recency": math.log1p(recency),
        "log_span": math.log1p(span),
        "age": (at - c.days[0]) / DAY,
        "log_orders": math.log(n),
        "order_value": math.log1p(float(np.mean(c.amounts))),
        "items_per_order": math.log1p(float(np.mean(c.items))),
        "rows_per_day": float(np.mean(c.rows)),
        "overdue": math.log1p(recency / mean_gap) if mean_gap > 0 else 0.0,
        "gap_spread": spread,
        "value_trend": trend,
    }


def _logistic(x: Array, y: Array) -> Array:
    xb = np.c_[np.ones(len(x)), x]

    def loss(w: Array) -> tuple[float, Array]:
        z = xb @ w
        grad = xb.T @ (1 / (1 + np.exp(-z)) - y) + 2e-3 * np.r_[0.0, w[1:]]
        return float(np.sum(np.logaddexp(0, z) - y * z) + 1e-3 * np.sum(w[1:] ** 2)), grad

    return np.asarray(minimize(loss, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B").x)


def cv_auc(x: Array, y: NDArray[np.bool_]) -> float:
    """Mean out-of-fold AUC of a logistic regression (5 folds, repeated 10 times)."""
    aucs = []
    for rep in range(REPEATS):
        fold = np.random.default_rng(rep).permutation(len(y)) % FOLDS
        for f in range(FOLDS):
            train, test = fold != f, fold == f
            mu, sd = x[train].mean(0), x[train].std(0) + 1e-9
            w = _logistic((x[train] - mu) / sd, y[train].astype(float))
            aucs.append(_auc(np.c_[np.ones(test.sum()), (x[test] - mu) / sd] @ w, y[test]))
    return float(np.mean(aucs))


CANDIDATES = ("order_value", "items_per_order", "rows_per_day", "overdue", "gap_spread", "value_trend")
GROUPS: dict[str, Callable[[float], bool]] = {"1 order": lambda n: n == 1, "2 orders": lambda n: n == 2}
GROUPS["3+ orders"] = lambda n: n >= 3


def information_table(people: dict[str, dict[str, Customer]]) -> list[str]:
    head = "| cut-off | group (customers) | base | " + " | ".join(f"+ {k}" for k in CANDIDATES) + " |"
    lines = [head, "|---|---|" + "---:|" * (len(CANDIDATES) + 1)]
    for cutoff, customers in people.items():
        for group, member in GROUPS.items():
            cs = [c for c in customers.values() if member(c.features["n"])]
            y = np.array([c.churned for c in cs])
            base_keys = ["recency", "log_recency"] + (["log_span", "age", "log_orders"] if group != "1 order" else [])
            base = np.array([[c.features[k] for k in base_keys] for c in cs])
            cells = [f"{cv_auc(base, y):.4f}"]
            for k in CANDIDATES:
                if group == "1 order" and k in ("overdue", "gap_spread", "value_trend"):
                    cells.append("–")
                    continue
                cells.append(f"{cv_auc(np.c_[base, [c.features[k] for c in cs]], y):.4f}")
            lines.append(f"| {cutoff} | {group} ({len(cs)}) | " + " | ".join(cells) + " |")
    return lines


def _model_scores(model: BuyingModel, found: dict[str, History], ids: Sequence[str]) -> Array:
    return np.array([-expected_orders(model, found[c], HORIZON_DAYS) for c in ids])


def _ci(p: dict[str, Any]) -> str:
    return f"{p['diff']:+.4f} [{p['ci95'][0]:+.4f}, {p['ci95'][1]:+.4f}]"


# The pack's CDNOW rules (orders only): weights searched in part 3, graded ranges as in the pack.
@dataclass(frozen=True, slots=True)
class PackWeights:
    first_min: float = 60.0  # first_order_lapse: min_weight (at 30 days)
    first: float = 90.0  # first_order_lapse: weight (at 365 days)
    lapse: float = 75.0  # order_lapse
    second: float = 50.0  # second_order_lapse
    model: float = 70.0  # low_expected_orders


def pack_score(f: dict[str, float], gap_ratio: float | None, e90: float | None, w: PackWeights) -> float:
    """The engine's score of the default pack for a customer with orders and nothing else."""
    n, recency = f["n"], f["recency"]
    weights = []
    if n >= 3 and gap_ratio is not None and gap_ratio >= 3:
        weights.append(30.0)  # order_gap
    if recency >= 30:
        if n <= 1:
            weights.append(
                Graded(threshold=30, full_at=365, step=1, min_weight=w.first_min, weight=w.first).weight_at(recency)
            )
        else:
            weights.append(Graded(threshold=30, full_at=365, step=1, min_weight=0.0, weight=w.lapse).weight_at(recency))
            if n == 2:
                weights.append(w.second)
    if e90 is not None and e90 <= 1:
        weights.append(Graded(threshold=1, full_at=0, step=0.01, min_weight=0.0, weight=w.model).weight_at(e90))
    return score_from_remaining(math.prod(1 - x / 100 for x in weights))


def _gap_ratio(c: Customer, at: float) -> float | None:
    days = c.days[-13:]
    if len(days) < 3:
        return None
    gap = median(b - a for a, b in itertools.pairwise(days)) / DAY
    return (at - c.days[-1]) / DAY / gap if gap else None


def main() -> None:
    events = read_events([_events()], Limits(), [])
    raw = _raw()
    people: dict[str, dict[str, Customer]] = {}
    models: dict[str, tuple[dict[str, History], dict[str, BuyingModel], dict[str, float]]] = {}
    acts = activities(events)
    for cutoff in CUTOFFS:
        sys.stderr.write(f"evaluate_tuning: cut-off {cutoff}\n")
        at = datetime.strptime(cutoff, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        labels = {c: churned(a, at, HORIZON_DAYS * DAY, LabelRule()) for c, a in acts.items() if a.first_event < at}
        people[cutoff] = _customers(raw, labels, at)
        for c in people[cutoff].values():
            c.features = _features(c, at)
        found = histories(events, at)
        fitted = {kind: fit(list(found.values()), kind) for kind in ("bgnbd", "mbgnbd", "paretonbd")}
        engine = run_variant(events, Variant("default+mbgnbd", load_pack(), fitted["mbgnbd"]), [at], EngineConfig())
        models[cutoff] = (found, fitted, engine[at].scores)
    out = ["# Tuning-part checks (`python -m bench.evaluate_tuning`; the held-out customers are never read)", ""]
    out += ["## 1. Information beyond recency and frequency: out-of-sample AUC within each group", ""]
    out += information_table(people)
    out += ["", "## 2. The purchase models alone: minus expected orders within 273 days", ""]
    out += [
        "| cut-off | BG/NBD | MBG/NBD | Pareto/NBD | MBG/NBD − BG/NBD | Pareto/NBD − BG/NBD | Pareto/NBD − MBG/NBD |"
    ]
    out += ["|---|---:|---:|---:|---:|---:|---:|"]
    for cutoff, customers in people.items():
        found, fitted, _ = models[cutoff]
        ids = sorted(customers)
        y = np.array([customers[c].churned for c in ids])
        s = {k: _model_scores(m, found, ids) for k, m in fitted.items()}
        aucs = " | ".join(f"{_auc(s[k], y):.4f}" for k in ("bgnbd", "mbgnbd", "paretonbd"))
        pairs = [("mbgnbd", "bgnbd"), ("paretonbd", "bgnbd"), ("paretonbd", "mbgnbd")]
        cis = " | ".join(_ci(paired_bootstrap(s[a], s[b], y, 2000, seed=0)) for a, b in pairs)
        out.append(f"| {cutoff} | {aucs} | {cis} |")
    out += ["", _split_halves(people, models)]
    text = "\n".join(out) + "\n"
    (RESULTS / "evaluate-tuning.md").write_text(text)
    print(text)


def _split_halves(
    people: dict[str, dict[str, Customer]],
    models: dict[str, tuple[dict[str, History], dict[str, BuyingModel], dict[str, float]]],
) -> str:
    grid = [
        PackWeights(*w)
        for w in itertools.product((40, 50, 60, 70), (80, 90, 95), (60, 75, 90), (0, 30, 50, 70), (50, 70, 90))
    ]
    data = {}
    for cutoff, customers in people.items():
        found, fitted, engine = models[cutoff]
        ids = sorted(customers)
        at = datetime.strptime(cutoff, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        ratios = [_gap_ratio(customers[c], at) for c in ids]
        e90 = [round(expected_orders(fitted["mbgnbd"], found[c], 90), 6) for c in ids]
        feats = [customers[c].features for c in ids]
        scores = np.array([[pack_score(f, r, e, w) for f, r, e in zip(feats, ratios, e90, strict=True)] for w in grid])
        default = grid.index(PackWeights())
        mismatched = sum(1 for k, c in enumerate(ids) if scores[default][k] != engine[c])
        assert not mismatched, f"{mismatched} scores differ from the engine's"
        y = np.array([customers[c].churned for c in ids])
        s = {k: _model_scores(m, found, ids) for k, m in fitted.items()}
        data[cutoff] = (scores, y, s)
    rows = []
    for split in range(SPLITS):
        rng = np.random.default_rng(100 + split)
        halves = {cutoff: rng.random(len(data[cutoff][1])) < 0.5 for cutoff in data}
        margin = np.full(len(grid), np.inf)
        for cutoff, (scores, y, s) in data.items():
            a = halves[cutoff]
            base = _auc(s["bgnbd"][a], y[a])
            margin = np.minimum(margin, [_auc(row[a], y[a]) - base for row in scores])
        best = int(np.argmax(margin))
        row = []
        for cutoff, (scores, y, s) in data.items():
            b = ~halves[cutoff]
            base = _auc(s["bgnbd"][b], y[b])
            row += [_auc(scores[best][b], y[b]) - base, _auc(s["paretonbd"][b], y[b]) - base]
            row += [_auc(s["mbgnbd"][b], y[b]) - base]
        rows.append(row)
    table = np.array(rows)
    lines = [
        "## 3. Tuning optimism: weights searched on one half of the tuning part, measured on the other",
        "",
        f"AUC − BG/NBD's AUC on the other half, mean ± standard deviation over {SPLITS} splits:",
        "",
        "| cut-off | pack, weights searched on the first half | Pareto/NBD alone | MBG/NBD alone |",
        "|---|---:|---:|---:|",
    ]
    for k, cutoff in enumerate(data):
        cells = " | ".join(f"{table[:, 3 * k + j].mean():+.4f} ± {table[:, 3 * k + j].std():.4f}" for j in range(3))
        lines.append(f"| {cutoff} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
