"""The one factory from settings to what the pure core is configured with: the engine's
configuration and the parser's limits. Both doors (the worker, the offline commands) use it."""

from __future__ import annotations

from collections.abc import MutableMapping

from agents.settings import Clock, Settings
from rules.engine import Engine, EngineConfig
from rules.model import BuyingModel
from rules.pack import RulePack
from streams.parse import Limits


def limits_of(settings: Settings) -> Limits:
    return Limits(settings.max_event_bytes, settings.max_future_skew_seconds, settings.default_currency)


def engine_config_of(
    settings: Settings,
    *,
    model: BuyingModel | None,
    tick_seconds: float | None = None,
    clock: Clock | None = None,
) -> EngineConfig:
    """The engine's configuration. ``tick_seconds`` (a command-line option) wins over the
    settings; without either, the tick is a day with the event ``clock`` (the offline commands
    always run one) and a minute with the wall clock. ``model``: the buying model, loaded by the
    door (its errors are the door's to report)."""
    chosen = clock or settings.clock
    tick = tick_seconds or settings.tick_seconds or (86400.0 if chosen is Clock.EVENT else 60.0)
    return EngineConfig(
        tick_seconds=tick,
        allowed_lateness=settings.allowed_lateness_seconds,
        cooldown=settings.cooldown_seconds,
        expected_lifespan_years=settings.expected_lifespan_years,
        lost_after_days=settings.lost_after_days,
        history_limit=settings.history_limit,
        model=model,
    )


# Offline doors (replay, backtest): changed customers held decoded between two commits. Committing
# by their number only, with no decoded cache beside them, measured best in both speed and peak
# memory (``churnwatch replay`` of 10k-1M simulated customers; README, "Cost against size"): a
# customer seen again before the commit is neither decoded nor encoded again, and a cache of
# committed customers cost its memory for little gain once customers outnumber it. 10,000 and not
# 50,000: a held customer costs about 1.2 kB decoded, and the peak of a replay fell by about 58 MB
# at 100k and 300k customers for 2% more CPU at 300k (7% at 100k, where half the customers fit in
# 50,000 and came back before the commit); 5,000 saved 4 MB more for 4% more CPU.
OFFLINE_CHANGED = 10_000


def offline_engine(
    pack: RulePack, config: EngineConfig, store: MutableMapping[str, bytes] | None = None, *, share: int = 1
) -> Engine:
    """An engine for an offline door; ``share``: how many engines divide the held customers. It
    keeps no map of the customers at risk (the worker's views read it, the offline doors do not)."""
    held = max(OFFLINE_CHANGED // share, 1)
    return Engine(pack, config, store, decoded_cache=0, commit_every=None, max_changed=held, at_risk=False)
