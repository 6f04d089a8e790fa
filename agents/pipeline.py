"""The worker's adapter logic: one message in, alerts and dead letters out, via the shared engine.

Kept apart from Faust so that it reads as what it is: parse, hand to the partition's engine,
count. No rule, signal or alert logic lives here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from agents.aligner import Aligner
from agents.emit import stamp
from agents.engine_setup import engine_config_of, limits_of
from agents.metrics import Metrics
from agents.model_file import cached_model
from agents.progress import Progress
from agents.settings import Clock, Settings
from agents.watermark import Watermark
from rules.aggregates import Totals
from rules.engine import Engine
from rules.pack import RulePack
from rules.scoring import TIER_NAMES
from streams.deadletter import dead_letter
from streams.errors import BadInput, Reason
from streams.parse import parse_event

log = logging.getLogger(__name__)
# customers of a partition kept decoded between events: the worker is bound by Kafka and Faust
# (a decode is a few microseconds of its ~150 per event), so memory wins; the table keeps the bytes
WORKER_DECODED_CACHE = 2_000


@dataclass(slots=True)
class Outcome:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    dead_letter: dict[str, Any] | None = None
    received: float = 0.0  # when the (earliest) message behind these alerts was received


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        pack: RulePack,
        metrics: Metrics,
        store_for: Callable[[int], MutableMapping[str, bytes]],
        observer: Callable[..., None] | None = None,
        progress_for: Callable[[int], Progress] | None = None,
        canonical_id: Callable[[int, str], str] | None = None,
    ) -> None:
        """``canonical_id(partition, customer_id)``: the string object to keep for that id, set in
        the event before the engine has it (the memory store's key; see PartitionStore.canonical)."""
        self.settings = settings
        self.pack = pack
        self.metrics = metrics
        self.store_for = store_for
        self.canonical_id = canonical_id
        self.observer = observer
        model = cached_model(settings.model) if settings.model is not None else None
        self.config = engine_config_of(settings, model=model)
        self.event_clock = settings.clock is Clock.EVENT
        self.limits = limits_of(settings)
        self.engines: dict[int, Engine] = {}
        self.aligners: dict[int, Aligner] = {}
        self.watermarks: dict[int, Watermark] = {}  # wall clock (the aligners hold their own)
        self._progress: dict[int, Progress] = {}  # replay-like use without a worker's stores
        self.progress_for = progress_for or (lambda partition: self._progress.setdefault(partition, Progress()))
        self._counters: dict[tuple[str, str], Any] = {}
        self.types = {topic: etype for etype, topic in settings.input_topics.items()}

    def engine(self, partition: int, keys: Iterable[str] | None = None) -> Engine:
        engine = self.engines.get(partition)
        if engine is None:
            engine = Engine(self.pack, self.config, self.store_for(partition), decoded_cache=WORKER_DECODED_CACHE)
            engine.observer = self.observer
            engine.rebuild_index(keys)
            self.engines[partition] = engine
        return engine

    def drop(self, partitions: set[int]) -> None:
        for p in partitions:
            self.engines.pop(p, None)
            self.aligners.pop(p, None)
            self.watermarks.pop(p, None)

    def restart(self, partition: int, topic: str) -> None:
        """The topic's partition is delivered again from its committed offset: the events held
        from it go (they come again), and so does what the aligner knew of its time."""
        aligner = self.aligners.get(partition)
        if aligner is not None:
            aligner.drop_topic(topic)

    def set_pack(self, pack: RulePack) -> None:
        self.pack = pack
        for engine in self.engines.values():
            engine.set_pack(pack)

    def handle(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        now: float,
        *,
        ack: Callable[[], Any] | None = None,
        caught_up: Callable[[str], bool] | None = None,
    ) -> Outcome:
        """One message. Wall clock: applied at once, its lateness judged against the partition's
        watermark (``agents.watermark``). Event clock: aligned across the four topics of the
        partition first (``agents.aligner``). ``ack`` is called once the event is handled.
        A message whose offset the partition's state already holds (``agents.progress``: it is
        delivered again after a crash or a rebalance) is counted as a duplicate and skipped."""
        out = Outcome(received=now)
        progress = self.progress_for(partition)
        if progress.seen(topic, offset):
            self._count(topic, "duplicate")
            if ack is not None:
                ack()
            return out
        caught_up = caught_up or (lambda _topic: False)
        etype = self.types.get(topic)
        try:
            if etype is None:
                raise BadInput(Reason.SCHEMA, f"message from unexpected topic {topic!r}")
            event = parse_event(etype, value if value is not None else b"", key=key, now=now, limits=self.limits)
        except BadInput as exc:
            out.dead_letter = self._dead(exc, topic, partition, offset, key, value, now)
            progress.add(topic, offset)
            if ack is not None:
                ack()
            return out
        if self.canonical_id is not None:  # before the aligner holds it: the parser's string dies now
            cid = event.customer_id
            canonical = self.canonical_id(partition, cid)
            if canonical is not cid:
                object.__setattr__(event, "customer_id", canonical)  # a frozen event: its id only
        if not self.event_clock:
            marks = self.watermarks.get(partition)
            if marks is None:
                marks = self.watermarks[partition] = Watermark(self.types, self.settings.align_idle_seconds)
            marks.observe(topic, event.ts)
            self._apply(partition, topic, event, out, offset, key, value, now, marks.value(caught_up))
            if ack is not None:
                ack()
            return out
        aligner = self.aligners.get(partition)
        if aligner is None:
            aligner = self.aligners[partition] = Aligner(self.types, self.settings.align_idle_seconds)
        aligner.add(topic, event, ack, now, (offset, key, value))
        self.release(partition, caught_up, out)
        return out

    def release(self, partition: int, caught_up: Callable[[str], bool], out: Outcome) -> None:
        """Apply the aligned events of a partition that the watermark lets through."""
        aligner = self.aligners.get(partition)
        if aligner is None:
            return
        for held in aligner.release(caught_up):
            offset, key, value = held.origin
            out.received = min(out.received or held.received, held.received)
            self._apply(partition, held.topic, held.event, out, offset, key, value, held.received)
            if held.ack is not None:
                held.ack()

    def _apply(
        self,
        partition: int,
        topic: str,
        event: Any,
        out: Outcome,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        now: float,
        watermark: float | None = None,
    ) -> None:
        engine = self.engine(partition)
        self.progress_for(partition).add(topic, offset)  # in the state from the next commit on
        try:
            held = engine.held_back
            alerts = engine.process(event) if self.event_clock else engine.apply(event, watermark)
            self._count_held_back(engine.held_back - held)
        except BadInput as exc:  # too late
            out.dead_letter = self._dead(exc, topic, partition, offset, key, value, now)
            return
        except Exception as exc:  # never let one event stop the worker: keep it as a dead letter
            log.exception("processing failed on %s[%d]@%d", topic, partition, offset)
            error = BadInput(Reason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
            out.dead_letter = self._dead(error, topic, partition, offset, key, value, now)
            return
        out.alerts.extend(alerts)
        self._count(topic, alerts.outcome.value)

    def _count_held_back(self, n: int) -> None:
        if n:
            self.metrics.alerts_held_back.inc(n)

    def _count(self, topic: str, outcome: str) -> None:
        counter = self._counters.get((topic, outcome))
        if counter is None:
            counter = self._counters[(topic, outcome)] = self.metrics.events.labels(topic, outcome)
        counter.inc()

    def _dead(
        self, exc: BadInput, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, now: float
    ) -> dict[str, Any]:
        self._count(topic, "dead_letter")
        self.metrics.dead_letters.labels(exc.reason.value).inc()
        return dead_letter(
            value=value or b"",
            key=key,
            topic=topic,
            partition=partition,
            offset=offset,
            reason=exc.reason,
            detail=exc.detail,
            received_at=now,
        )

    def tick(self, t: float) -> list[dict[str, Any]]:
        """Wall clock: tick every engine at ``t``."""
        alerts: list[dict[str, Any]] = []
        for engine in list(self.engines.values()):
            started = time.perf_counter()
            before, held = engine.evaluations, engine.held_back
            alerts.extend(engine.tick(t))
            self.metrics.tick_duration.observe(time.perf_counter() - started)
            self.metrics.tick_customers.inc(engine.evaluations - before)
            self._count_held_back(engine.held_back - held)
        return alerts

    def finish_alert(self, alert: dict[str, Any], received: float) -> dict[str, Any]:
        now = time.time()
        stamp(alert, now)
        self.metrics.alerts.labels(alert["tier"], alert["status"]).inc()
        for hit in alert["rules"]:
            if alert["status"] == "firing":
                self.metrics.rule_firings.labels(hit["rule"]).inc()
        self.metrics.alert_latency.observe(max(0.0, now - received))
        return alert

    def update_gauges(self) -> None:
        """Customers and revenue at risk by tier, churn rate and NPS over this worker's partitions
        (the partitions' ``rules.aggregates.Totals`` added up: the formulas live there)."""
        totals = sum((engine.totals() for engine in self.engines.values()), Totals())
        for tier, n, rar in zip(TIER_NAMES, totals.by_tier, totals.revenue_at_risk, strict=True):
            self.metrics.customers.labels(tier).set(n)
            self.metrics.revenue_at_risk.labels(tier).set(round(rar, 2))
        self.metrics.churn_rate.set(totals.churn_rate or 0.0)
        self.metrics.nps.set(round(totals.nps, 2) if totals.nps is not None else 0.0)
