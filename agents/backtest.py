"""``churnwatch backtest``: replay history through the same engine up to each cut-off, score
every known customer there, label it by what happened within the horizon, and measure.

Rankers: each rule-pack variant (a pack, with or without the buying model), and optional
baselines computed in the same run: ``recency`` (days since the last order or login) and
``bgnbd`` (minus the expected orders within the horizon of a plain BG/NBD model fitted, by
``rules.fit``, on the orders before the cut-off), ``paretonbd`` (the same with Pareto/NBD).
Customers may be split by a hash of their id into a tuning part and a held-out part, reported
separately.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from agents.engine_setup import offline_engine
from rules.engine import Engine, EngineConfig
from rules.fit import fit, histories
from rules.labels import Activity, churn_time, last_activity
from rules.model import BuyingModel, expected_orders
from rules.pack import RulePack
from rules.state import DAY, id_hash
from streams.events import Event
from streams.parse import parse_ts

RECENT_ALERTS = 30 * DAY  # "alerts per 1,000 customers" counts the firing alerts of the 30 days before a cut-off
BASELINES = ("recency", "bgnbd", "paretonbd")


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    pack: RulePack
    model: BuyingModel | None = None


@dataclass(slots=True)
class Scored:
    """One ranker at one cut-off: a score per customer (higher = riskier) and, for packs, more."""

    scores: dict[str, float]
    tiers: dict[str, str] | None = None
    first_alert: dict[str, float] = field(default_factory=dict)  # open alert episode's first firing time
    recent_firing: dict[str, int] = field(default_factory=dict)  # firing alerts of the 30 days before the cut-off


class _AlertLog:
    """Each customer's open alert episode (first firing alert since its last resolved) and firing times."""

    def __init__(self) -> None:
        self.episode: dict[str, float] = {}
        self.firing: list[tuple[float, str]] = []

    def add(self, alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            cid, t = alert["customer_id"], parse_ts(alert["event_time"])
            if alert["status"] == "firing":
                self.firing.append((t, cid))
                self.episode.setdefault(cid, t)
            else:
                self.episode.pop(cid, None)


def _snapshot(engine: Engine, log: _AlertLog, cutoff: float) -> Scored:
    log.add(engine.advance(cutoff))
    scores: dict[str, float] = {}
    tiers: dict[str, str] = {}
    for cid in engine.customers():
        view = engine.view(cid, cutoff)
        assert view is not None
        scores[cid], tiers[cid] = view["risk_score"], view["tier"]
    recent: dict[str, int] = {}
    for t, cid in log.firing:
        if cutoff - RECENT_ALERTS < t <= cutoff:
            recent[cid] = recent.get(cid, 0) + 1
    return Scored(scores, tiers, dict(log.episode), recent)


class EventPasses(Protocol):
    """Events in time order that can be gone over more than once, with their count: a list, or an
    ``agents.sorted_events.SortedInput`` streaming the files again on each pass."""

    def __iter__(self) -> Iterator[Event]: ...

    def __len__(self) -> int: ...


Progress = Callable[[EventPasses, str], Iterable[Event]]


def silent(events: EventPasses, _name: str) -> Iterable[Event]:
    return events


def run_variant(
    events: EventPasses,
    variant: Variant,
    cutoffs: Sequence[float],
    config: EngineConfig,
    progress: Progress = silent,
) -> dict[float, Scored]:
    """Replay ``events`` (sorted by time) through the engine, scoring every known customer at each cut-off."""
    engine = offline_engine(variant.pack, replace(config, model=variant.model))
    log = _AlertLog()
    pending = sorted(cutoffs)
    out: dict[float, Scored] = {}
    for event in progress(events, variant.name):
        while pending and event.ts >= pending[0]:
            cutoff = pending.pop(0)
            out[cutoff] = _snapshot(engine, log, cutoff)
        if not pending:
            break
        log.add(engine.process(event))
    for cutoff in pending:
        out[cutoff] = _snapshot(engine, log, cutoff)
    return out


def recency_scores(acts: dict[str, Activity], cutoff: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for cid, act in acts.items():
        if act.first_event < cutoff:
            last = last_activity(act, cutoff)
            out[cid] = (cutoff - (last if last is not None else act.first_event)) / DAY
    return out


def bgnbd_scores(
    events: Iterable[Event], acts: dict[str, Activity], cutoff: float, horizon: float, kind: str = "bgnbd"
) -> Scored:
    """Minus plain BG/NBD's (or another ``kind``'s) expected orders within the horizon (fitted on
    the orders before the cut-off)."""
    found = histories(events, cutoff)
    scores = {cid: 0.0 for cid, act in acts.items() if act.first_event < cutoff}  # no order: nothing expected
    try:
        model = fit(list(found.values()), kind)
    except ValueError:  # fewer than 2 customers with orders: nothing to fit, every score ties
        return Scored(scores)
    for cid, h in found.items():
        scores[cid] = -expected_orders(model, h, horizon / DAY)
    return Scored(scores)


def in_holdout(customer_id: str, share: float) -> bool:
    """The held-out part: a fixed share of customers by a hash of their id (the same in every run)."""
    return id_hash(customer_id) % 1000 < round(share * 1000)


def subsets(
    customers: Sequence[str], share: float, customer_of: Callable[[str], str] = str
) -> Iterator[tuple[str, list[str]]]:
    """All customers, then (with a share) the tuning and the held-out part; ``customer_of`` maps a
    key to its customer id (pooled keys are ``id@cut-off``)."""
    yield "all", list(customers)
    if share > 0:
        yield "tuning", [c for c in customers if not in_holdout(customer_of(c), share)]
        yield "held-out", [c for c in customers if in_holdout(customer_of(c), share)]


def lead_times(
    scored: Scored, acts: dict[str, Activity], churners: Sequence[str], cutoff: float, horizon: float
) -> dict[str, float]:
    """Per alerted churner: days from the first firing alert of its open episode to its churn time."""
    out = {}
    for cid in churners:
        first = scored.first_alert.get(cid)
        lost = churn_time(acts[cid], cutoff, horizon)
        if first is not None and lost is not None:
            out[cid] = (lost - first) / DAY
    return out
