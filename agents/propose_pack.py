"""``churnwatch fit --propose PACK.yaml``: the base pack with weights learned from the labels at a
cut-off (``rules.propose``), written as a pack a person reads, edits and backtests before use."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ruamel.yaml import YAML

from agents.engine_setup import offline_engine
from rules.engine import EngineConfig
from rules.labels import activities, churned
from rules.model import BuyingModel
from rules.pack import RulePack
from rules.propose import propose_factors, scale_weight
from streams.events import Event
from streams.timefmt import format_ts


@dataclass(frozen=True, slots=True)
class Change:
    rule: str
    fired: int
    factor: float
    old: float
    new: float


def firing_rules(
    events: Iterable[Event], pack: RulePack, model: BuyingModel | None, cutoff: float, config: EngineConfig
) -> dict[str, dict[str, float]]:
    """Each customer known at the cut-off: the rules firing there, with the weight each had."""
    engine = offline_engine(pack, replace(config, model=model))
    for event in events:
        if event.ts >= cutoff:
            break
        engine.process(event)
    engine.advance(cutoff)
    out: dict[str, dict[str, float]] = {}
    for cid in sorted(engine.customers()):
        view = engine.view(cid, cutoff)
        assert view is not None
        out[cid] = {hit["rule"]: float(hit["weight"]) for hit in view["rules"]}
    return out


def propose(
    events: Iterable[Event],
    pack: RulePack,
    model: BuyingModel | None,
    cutoff: float,
    horizon: float,
    config: EngineConfig,
) -> tuple[str, list[Change]]:
    """The proposed pack's YAML (the base pack's text with new weights) and what changed."""
    hits = firing_rules(events, pack, model, cutoff, config)
    acts = activities(events)
    customers = list(hits)
    factors = propose_factors([hits[c] for c in customers], [churned(acts[c], cutoff, horizon) for c in customers])
    yaml = YAML(typ="rt")
    yaml.width = 4096  # keep each rule's lines as the base pack has them
    doc = yaml.load(Path(pack.source).read_text(encoding="utf-8"))
    changes = []
    for node in doc["rules"]:
        factor = factors.get(node["id"])
        if factor is None:
            continue
        old = float(node["weight"])
        node["weight"] = scale_weight(old, factor)
        graded = node.get("graded")
        if isinstance(graded, dict) and "min_weight" in graded:
            graded["min_weight"] = min(scale_weight(float(graded["min_weight"]), factor), node["weight"])
        fired = sum(1 for c in customers if node["id"] in hits[c])
        changes.append(Change(node["id"], fired, factor, old, float(node["weight"])))
    out = io.StringIO()
    out.write(
        f"# Proposed by `churnwatch fit --propose` from {len(customers)} customers at cut-off {format_ts(cutoff)}\n"
        f"# (horizon {horizon / 86400:g} days; base pack {pack.source}). Review it and backtest it before use:\n"
        "# the weights rank churners like a logistic fit of the labels; tiers may move.\n"
    )
    yaml.dump(doc, out)
    return out.getvalue(), changes
