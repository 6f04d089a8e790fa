"""The backtest's measurements: every ranker at every cut-off, for all customers and each part
of the split, as a JSON-ready document, plus the curves the picture draws."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.backtest import (
    EventPasses,
    Progress,
    Scored,
    Variant,
    bgnbd_scores,
    lead_times,
    recency_scores,
    run_variant,
    silent,
    subsets,
)
from rules.engine import EngineConfig
from rules.labels import Activity, LabelRule, activities, churned
from rules.metrics import TOP_SHARES, lift, lift_curve, roc_auc, roc_curve, spread, tier_table, top_precision
from rules.scoring import TIER_NAMES
from rules.state import DAY
from streams.timefmt import format_ts

TIER_CHANGES_LISTED = 20


@dataclass(slots=True)
class Options:
    cutoffs: Sequence[float]
    horizon: float  # seconds
    baselines: Sequence[str] = ()
    holdout: float = 0.0
    label_rule: LabelRule = field(default_factory=LabelRule)


@dataclass(slots=True)
class Result:
    doc: dict[str, Any]
    curves: dict[str, dict[str, dict[str, Any]]]  # cut-off -> ranker -> roc, lift, lead (all customers)
    # cut-off -> (ranker -> customer -> score, customer -> churned): for a bootstrap of the AUCs
    scores: dict[str, tuple[dict[str, dict[str, float]], dict[str, bool]]] = field(default_factory=dict)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def measure(
    scored: Scored, members: Sequence[str], labels: dict[str, bool], lead: list[float], base: float
) -> dict[str, Any]:
    scores = [scored.scores.get(c, float("-inf")) for c in members]
    ys = [labels[c] for c in members]
    out: dict[str, Any] = {"auc": _r(roc_auc(scores, ys))}
    for share in TOP_SHARES:
        p = top_precision(scores, ys, share)
        out[f"top_{round(share * 100)}pct"] = {"precision": _r(p), "lift": _r(lift(p, base), 3)}
    if scored.tiers is not None:
        tiers = [scored.tiers.get(c, "healthy") for c in members]
        out["tiers"] = {k: {m: _r(v) for m, v in row.items()} for k, row in tier_table(tiers, ys, TIER_NAMES).items()}
        alerted = [t != "healthy" for t in tiers]
        flagged = sum(alerted)
        hit = sum(1 for a, y in zip(alerted, ys, strict=True) if a and y)
        churners = sum(ys)
        out["above_healthy"] = {
            "customers": flagged,
            "precision": _r(hit / flagged if flagged else None),
            "recall": _r(hit / churners if churners else None),
        }
        firing = sum(scored.recent_firing.get(c, 0) for c in members)
        out["alerts_per_1000"] = _r(1000 * firing / len(members) if members else None, 1)
        out["lead_time_days"] = {k: _r(v, 1) if isinstance(v, float) else v for k, v in spread(lead).items()}
    return out


def _tier_changes(a: Scored, b: Scored, known: Sequence[str]) -> dict[str, Any]:
    assert a.tiers is not None and b.tiers is not None
    moves = Counter((a.tiers[c], b.tiers[c]) for c in known if a.tiers.get(c) != b.tiers.get(c))
    changed = [c for c in known if a.tiers.get(c) != b.tiers.get(c)]
    return {
        "changed": len(changed),
        "moves": {f"{x} -> {y}": n for (x, y), n in sorted(moves.items())},
        "customers": [{"customer_id": c, "from": a.tiers[c], "to": b.tiers[c]} for c in changed[:TIER_CHANGES_LISTED]],
    }


@dataclass(slots=True)
class _Slice:
    """One cut-off (or all pooled): rankers, labels and alerted churners' lead times by key."""

    when: str
    rankers: dict[str, Scored]
    labels: dict[str, bool]
    leads: dict[str, dict[str, float]]


def backtest(
    events: EventPasses,
    variants: Sequence[Variant],
    options: Options,
    config: EngineConfig,
    progress: Progress = silent,
) -> Result:
    """Every ranker at every cut-off (``events`` sorted by time), and pooled over the cut-offs.

    ``events`` is gone over several times (labels, each variant, the baselines): a list, or an
    ``agents.sorted_events.SortedInput`` that streams the files again on each pass."""
    acts = activities(events)
    runs = {v.name: run_variant(events, v, options.cutoffs, config, progress) for v in variants}
    doc: dict[str, Any] = _header(variants, options)
    curves: dict[str, dict[str, dict[str, Any]]] = {}
    slices = []
    for cutoff in sorted(options.cutoffs):
        rankers = {v.name: runs[v.name][cutoff] for v in variants} | _baselines(events, acts, cutoff, options)
        part = _slice(rankers, acts, cutoff, options)
        slices.append(part)
        _entries(doc, part, options.holdout)
        curves[part.when] = {name: _curve(name, part) for name in rankers}
        if len(variants) >= 2:
            known = sorted(rankers[variants[0].name].scores)
            changes = _tier_changes(rankers[variants[0].name], rankers[variants[1].name], known)
            doc["tier_changes"].append({"cutoff": part.when, **changes})
    if len(slices) > 1:
        _entries(doc, _pooled(slices), options.holdout)
    doc["warnings"] = _warnings(events, options)
    scores = {part.when: ({n: r.scores for n, r in part.rankers.items()}, part.labels) for part in slices}
    return Result(doc, curves, scores)


def _last_time(events: EventPasses) -> float | None:
    if isinstance(events, Sequence):
        return events[-1].ts if events else None
    last = getattr(events, "last_time", None)
    return last if isinstance(last, float) else max((e.ts for e in events), default=None)


def _warnings(events: EventPasses, options: Options) -> list[str]:
    """Horizons that end after the history does: their silent customers are labelled churned unseen."""
    last = _last_time(events)
    return [
        f"the horizon after cut-off {format_ts(c)} ends at {format_ts(c + options.horizon)}, after the last event "
        f"({format_ts(last)}): customers who would have come back after that count as churned"
        for c in sorted(options.cutoffs)
        if last is not None and c + options.horizon > last + DAY
    ]


def _header(variants: Sequence[Variant], options: Options) -> dict[str, Any]:
    return {
        "horizon_days": options.horizon / DAY,
        "label_rule": options.label_rule.describe(),
        "rankers": [
            {"name": v.name, "pack": v.pack.source, "model": v.model.kind if v.model else None} for v in variants
        ]
        + [{"name": b, "baseline": True} for b in options.baselines],
        "holdout_share": options.holdout,
        "results": [],
        "tier_changes": [],
    }


def _baselines(events: EventPasses, acts: dict[str, Activity], cutoff: float, options: Options) -> dict[str, Scored]:
    out: dict[str, Scored] = {}
    if "recency" in options.baselines:
        out["recency"] = Scored(recency_scores(acts, cutoff))
    for kind in ("bgnbd", "paretonbd"):
        if kind in options.baselines:
            out[kind] = bgnbd_scores(events, acts, cutoff, options.horizon, kind)
    return out


def _slice(rankers: dict[str, Scored], acts: dict[str, Activity], cutoff: float, options: Options) -> _Slice:
    known = sorted(c for c, a in acts.items() if a.first_event < cutoff)
    labels = {c: churned(acts[c], cutoff, options.horizon, options.label_rule) for c in known}
    churners = [c for c in known if labels[c]]
    leads = {name: lead_times(scored, acts, churners, cutoff, options.horizon) for name, scored in rankers.items()}
    return _Slice(format_ts(cutoff), rankers, labels, leads)


def _pooled(slices: list[_Slice]) -> _Slice:
    """Every (customer, cut-off) pair as one population: keys ``id@cut-off``."""
    names = [n for n in slices[0].rankers if all(n in s.rankers for s in slices)]
    rankers: dict[str, Scored] = {}
    for name in names:
        parts = [(s.when, s.rankers[name]) for s in slices]
        tiers = (
            None if parts[0][1].tiers is None else {f"{c}@{w}": t for w, p in parts for c, t in (p.tiers or {}).items()}
        )
        rankers[name] = Scored(
            {f"{c}@{w}": v for w, p in parts for c, v in p.scores.items()},
            tiers,
            recent_firing={f"{c}@{w}": v for w, p in parts for c, v in p.recent_firing.items()},
        )
    labels = {f"{c}@{s.when}": y for s in slices for c, y in s.labels.items()}
    leads = {n: {f"{c}@{s.when}": v for s in slices for c, v in s.leads[n].items()} for n in names}
    return _Slice("overall", rankers, labels, leads)


def _entries(doc: dict[str, Any], part: _Slice, holdout: float) -> None:
    known = sorted(part.labels)
    for subset, members in subsets(known, holdout, lambda key: key.split("@", 1)[0]):
        churners = [c for c in members if part.labels[c]]
        base = len(churners) / len(members) if members else 0.0
        entry: dict[str, Any] = {"cutoff": part.when, "subset": subset, "customers": len(members)}
        entry |= {"churners": len(churners), "base_rate": _r(base), "rankers": {}}
        for name, scored in part.rankers.items():
            lead = [part.leads[name][c] for c in churners if c in part.leads[name]]
            entry["rankers"][name] = measure(scored, members, part.labels, lead, base)
        doc["results"].append(entry)


def _curve(name: str, part: _Slice) -> dict[str, Any]:
    members = sorted(part.labels)
    scores = [part.rankers[name].scores.get(c, float("-inf")) for c in members]
    ys = [part.labels[c] for c in members]
    return {"roc": roc_curve(scores, ys), "lift": lift_curve(scores, ys), "lead": list(part.leads[name].values())}
