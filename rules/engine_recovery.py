"""The engine after a changelog recovery: its due index, aggregates and clock rebuilt from the store.

``Engine.rebuild_index`` runs it when Faust has recovered a partition's table
(``agents.pipeline``): nothing the engine keeps beside its store (the due index, the
aggregates, the at-risk map, the clock) survives a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import orjson

from rules.aggregates import Aggregates
from rules.engine_reads import RESERVED_PREFIX
from rules.state import CustomerState

if TYPE_CHECKING:
    from rules.engine import Engine

# the engine's clock as of the last commit (the partition's store names it apart)
CLOCK_KEY: Final = RESERVED_PREFIX + "clock"


def rebuild_index(engine: Engine, keys: Iterable[str] | None = None) -> None:
    """Rebuild the engine's due index and aggregates from its store (after a changelog recovery).
    The next tick evaluates every customer: the due times the states hold are those of the pack and
    settings of the engine that wrote them, which a restart may have changed (a new pack file)."""
    engine.commit()
    engine._index.clear()
    engine._risky.clear()
    engine._agg = Aggregates()
    saved = engine.store.get(CLOCK_KEY)
    if saved is not None:  # the clock resumes where the changelogged state was left
        engine.clock = max(engine.clock or 0.0, float(orjson.loads(saved)))
        engine._committed_clock = engine.clock
    for cid in list(keys) if keys is not None else list(engine.store):
        if cid.startswith(RESERVED_PREFIX):
            continue
        raw = engine.store.get(cid)
        if raw is None:
            continue
        state = CustomerState.decode(raw)
        engine._agg.add(0.0, state.tier, state.rar, state.nps, fresh=False)
        if state.due is not None:
            engine._index.push(state.due, cid)
        if state.tier and engine._track_risky:
            engine._risky[cid] = (state.tier, 0.0, state.rar)
    engine._rescan = True
