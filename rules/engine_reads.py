"""The engine's reads: what the HTTP API, the views and the summaries see of its customers.

A mixin of :class:`rules.engine.Engine`: it changes no state (``refresh`` updates the views'
at-risk map only) and publishes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from rules import acknowledgement, history
from rules.aggregates import Aggregates, Totals
from rules.alerts import revenue_at_risk
from rules.config import EngineConfig
from rules.due_index import BUCKET_SECONDS, DueIndex
from rules.pack import Evaluation, RulePack
from rules.scoring import TIER_NAMES, TIER_RANK
from rules.signals import SignalConfig, compute_signals
from rules.state import CustomerState
from streams.timefmt import format_ts

RESERVED_PREFIX = "\x00"  # keys that are not customers


class EngineReads:
    config: EngineConfig
    pack: RulePack
    store: MutableMapping[str, bytes]
    clock: float | None
    observer: Callable[[str, Evaluation, float, float], None] | None
    _signal_config: SignalConfig
    _dirty: dict[str, CustomerState]
    _risky: dict[str, tuple[int, float, float]]
    _track_risky: bool
    _agg: Aggregates

    def _state_of(self, cid: str) -> CustomerState | None:
        raise NotImplementedError

    def _due_of(self, cid: str) -> float | None:
        """The customer's current due time, what the due index reads (it keeps none of its own):
        the uncommitted state's, else the stored bytes' (their head only)."""
        state = self._dirty.get(cid)
        if state is not None:
            return state.due
        raw = self.store.get(cid)
        return None if raw is None else CustomerState.due_of(raw)

    def view(self, customer_id: str, t: float | None = None) -> dict[str, Any] | None:
        """What the HTTP API shows of a customer: signals, score, tier, firing rules, alerted tier."""
        state = self._state_of(customer_id)
        if state is None:
            return None
        at = t if t is not None else (self.clock or 0.0)
        signals = compute_signals(state, at, self._signal_config)
        evaluation = self.pack.evaluate(signals)
        return {
            "customer_id": customer_id,
            "as_of": format_ts(at),
            "tier": evaluation.tier,
            "risk_score": evaluation.score,
            "alerted_tier": TIER_NAMES[state.alert.tier],
            "rules": [h.as_dict() for h in evaluation.hits],
            "signals": signals,
            "revenue_at_risk": revenue_at_risk(signals["customer_value"], evaluation.score),
            "acknowledgement": acknowledgement.view(state.ack, at),
        }

    def history(self, customer_id: str, t: float | None = None) -> dict[str, Any] | None:
        """The customer's history (``rules.history``) and acknowledgement at ``t``; None if unknown."""
        state = self._state_of(customer_id)
        if state is None:
            return None
        at = t if t is not None else (self.clock or 0.0)
        return {
            "customer_id": customer_id,
            "as_of": format_ts(at),
            "limit": self.config.history_limit,
            "entries": history.entries(state.history)[-self.config.history_limit :],
            "acknowledgement": acknowledgement.view(state.ack, at),
        }

    def current(self, customer_id: str) -> tuple[Evaluation, float, float]:
        """The customer's evaluation at the engine's clock, without changing anything."""
        state = self._state_of(customer_id)
        if state is None:
            raise KeyError(customer_id)
        at = self.clock or 0.0
        signals = compute_signals(state, at, self._signal_config)
        evaluation = self.pack.evaluate(signals)
        return evaluation, revenue_at_risk(signals["customer_value"], evaluation.score), at

    def refresh(self, customer_id: str) -> None:
        """Re-read a customer at the engine's clock for the views (``at_risk`` and the observer),
        changing no state and publishing nothing: after a recovery, the views start from this."""
        evaluation, rar, at = self.current(customer_id)
        rank = TIER_RANK[evaluation.tier]
        if rank and self._track_risky:
            self._risky[customer_id] = (rank, evaluation.score, rar)
        else:
            self._risky.pop(customer_id, None)
        if self.observer is not None:
            self.observer(customer_id, evaluation, rar, at)

    def customers(self) -> list[str]:
        """The ids of the engine's customers, committed or not."""
        return [cid for cid in {*self.store, *self._dirty} if not cid.startswith(RESERVED_PREFIX)]

    def totals(self, t: float | None = None) -> Totals:
        """The aggregates (``rules.aggregates``) at ``t`` (default: the clock)."""
        return self._agg.totals(t if t is not None else (self.clock or 0.0))

    def summary(self, t: float | None = None) -> dict[str, Any]:
        """Customers and revenue at risk by tier, NPS, and the churn rate of the last 30 days."""
        return self.totals(t).as_dict()

    def at_risk(self) -> dict[str, tuple[int, float, float]]:
        """Customers above healthy: tier rank, risk score (0 until re-evaluated after a recovery), revenue at risk
        (none kept by an engine made with ``at_risk=False``: the offline doors')."""
        return self._risky


class StateDueIndex(DueIndex):
    """The engine's due index, reading each customer's due time from the engine by a method call
    (compiled: a native call; the stored bound method of ``DueIndex`` is a call through Python)."""

    def __init__(self, reads: EngineReads, bucket_seconds: float = BUCKET_SECONDS) -> None:
        super().__init__(reads._due_of, bucket_seconds)
        self._reads = reads

    def due_of(self, customer_id: str) -> float | None:
        return self._reads._due_of(customer_id)
