"""The engine: events and ticks in, alerts out. Pure, driven by event time.

One ``Engine`` holds the customers of one partition (the worker makes one per partition) or of
a whole replay. Its store maps customer_id to the encoded :class:`~rules.state.CustomerState`;
the worker passes its Faust table, replay a dict.

- ``process(event)``: the event clock — runs the ticks at each multiple of the tick interval the
  event's time crosses (a tick at T runs before the events stamped T), then applies the event.
- ``apply(event)``: applies and evaluates one event (the wall-clock worker ticks by itself).
- ``tick(t)``: evaluates the customers due at ``t`` (``rules.due``).
- ``finish()``: replay's final tick at the last event's time.

Alerts are dicts in the format of contract section 6, without ``emitted_at`` (the adapter adds it).

Changed customers are kept decoded and written to the store (encoded) by ``commit()``: the
worker commits before each changelog flush; a commit also comes after ``commit_every`` events or
``max_changed`` changed customers (the offline doors: by changed customers only), so a customer
with many events in between is encoded once. Reads (``view``, ``current``, ticks) see the
uncommitted changes. The last ``decoded_cache`` customers written stay decoded beside their bytes.

``process``/``apply`` return :class:`~rules.config.Processed`: the alerts, and the event's outcome.
The dashboard aggregates are kept by ``rules.aggregates`` (``totals``, ``summary``).
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping
from functools import partial
from typing import Any, Final

from rules import acknowledgement, history
from rules.acknowledgement import Acknowledgement
from rules.aggregates import Aggregates
from rules.alerts import decide, revenue_at_risk
from rules.apply import apply_event
from rules.config import Duplicate, EngineConfig, Processed
from rules.config import Outcome as Outcome  # re-exported: callers import it from here
from rules.due import crossings_for, held_after, next_due
from rules.due_index import DueIndex
from rules.engine_reads import StateDueIndex
from rules.engine_recovery import CLOCK_KEY as CLOCK_KEY  # re-exported
from rules.engine_recovery import rebuild_index
from rules.engine_store import EngineStore
from rules.frame import customer_value, frame_signals, frame_values
from rules.pack import Evaluation, RulePack
from rules.quiet import EVALUATE, LOGGED_IN, due_after_login, logins_keep_quiet, unchanged_by
from rules.records import AlertMemory
from rules.scoring import TIER_RANK
from rules.signals import SLOT, SLOTS, SignalConfig, compute_signals, model_part, needed_model_signals
from rules.state import DAY, CustomerState
from streams.errors import BadInput, Reason
from streams.events import Event
from streams.timefmt import format_ts

DECODED_CACHE: Final = 20_000  # customers whose decoded state is kept between events (bounded memory)
COMMIT_EVERY: Final = 20_000  # applied events between two commits at most (bounds the uncommitted changes)
# the evaluated signals are a list in rules.signals.SLOTS order: the frame's, then the model's
VALUE: Final = SLOT["customer_value"]
SUBSCRIPTION: Final = SLOT["subscription_status"]
NO_RULES: Final[list[str]] = []  # the names of no firing rule (read only: history.record keeps no list it is given)
NULL_SIGNALS: Final = dict.fromkeys(SLOTS)  # every signal null, in order (rules.frame.frame_signals fills a copy)
Alert = dict[str, Any]  # contract section 6, without emitted_at
_EPOCHS: Final = itertools.count(1)  # a pack's quiet epoch (rules.quiet): one per set_pack of any engine


class Engine(EngineStore):
    def __init__(
        self,
        pack: RulePack,
        config: EngineConfig | None = None,
        store: MutableMapping[str, bytes] | None = None,
        *,
        decoded_cache: int = DECODED_CACHE,
        commit_every: int | None = COMMIT_EVERY,
        max_changed: int = COMMIT_EVERY,
        at_risk: bool = True,
    ):
        """``decoded_cache``: how many customers' decoded states are kept between events besides
        the store's bytes (speed against memory: a miss costs one decode). ``commit_every``
        applied events (None: no bound) or ``max_changed`` changed customers, whichever comes
        first, make a commit (between two, the changed customers are held decoded). ``at_risk``:
        keep the customers above healthy for ``at_risk()`` (the worker's views; replay has none)."""
        self.config = config or EngineConfig()
        self._cache_size, self._commit_every = max(decoded_cache, 0), commit_every
        self._max_changed, self._track_risky = max(max_changed, 1), at_risk
        self.store: MutableMapping[str, bytes] = store if store is not None else {}
        self.clock: float | None = None
        self.evaluations = 0
        self.quiet_logins = 0  # logins applied without an evaluation (rules.quiet)
        self.held_back = 0  # firing alerts not published because of an acknowledgement
        self._signal_config = SignalConfig(self.config.expected_lifespan_years, self.config.model)
        self._lifespan, self._lost_after = self.config.expected_lifespan_years, self.config.lost_after_days * DAY
        self._lateness, self._scan_all = self.config.allowed_lateness, self.config.scan_all
        config = self.config  # what every evaluation reads, kept as the engine's own fields (native when compiled)
        self._cooldown, self._tick, self._limit = config.cooldown, config.tick_seconds, config.history_limit
        # buckets as wide as the tick: the event clock's ticks (multiples of it) pop whole buckets, and
        # the wall clock's minute ticks do not read a day's bucket each minute
        self._index: DueIndex = StateDueIndex(self, self._tick)
        # decoded states of recently written customers, oldest write first; an OrderedDict: evicting a dict's first
        # entry again and again scans the dead entries at its front (35 us at 50,000 entries; 0.3 us with popitem)
        self._cache: OrderedDict[str, tuple[bytes, CustomerState]] = OrderedDict()
        self._dirty: dict[str, CustomerState] = {}  # changed since the last commit, not yet in the store
        self._since_commit = 0
        self._committed_clock: float | None = None
        self._agg = Aggregates()
        self._risky: dict[str, tuple[int, float, float]] = {}  # customers above healthy: (tier rank, score, rar)
        # called after every evaluation with (customer_id, evaluation, revenue at risk, time): the worker's Redis view
        self.observer: Callable[[str, Evaluation, float, float], None] | None = None
        self._rescan = False  # a new pack: the next tick evaluates every customer (set_pack)
        self.set_pack(pack)
        self._rescan = False

    # -- configuration ----------------------------------------------------------------------

    def set_pack(self, pack: RulePack) -> None:
        """Use a new rule pack from now on (hot reload): the next tick evaluates every customer, since
        the due times they hold are those of the old pack's rules (events evaluate their own)."""
        self.pack = pack
        self._rescan = True
        wanted = set(pack.signals_used) | {"subscription_status"}  # the engine's own churn bookkeeping reads it
        self._model_names = needed_model_signals(wanted)
        # without a model (or a model signal read) the model's part is null: no call into rules.signals (Python)
        self._with_model = self.config.model is not None and bool(self._model_names)
        self._order_value = "order_value_90d" in wanted  # else frame() skips it (a rounding per evaluation)
        self._value = "customer_value" in wanted  # else it is computed only for a score above 0 (_evaluate)
        self._crossings = crossings_for(pack, self.config.model is not None)
        # quiet customers' logins are applied without an evaluation (not when every evaluation is wanted)
        keep = not self._scan_all and logins_keep_quiet(pack, self._with_model)
        self._quiet_epoch = next(_EPOCHS) if keep else 0
        self._quiet_evaluation = pack.no_hits()

    # -- the two doors -------------------------------------------------------------------------

    def process(self, event: Event) -> Processed:
        """Event clock: ticks crossed by the event's time, then the event."""
        ticked = self._advance(event.ts)
        result = self.apply(event)
        if ticked:
            result[:0] = ticked
        return result

    def advance(self, t: float) -> list[dict[str, Any]]:
        """Run the ticks at the multiples of the tick interval in (clock, t]; the clock becomes t."""
        return self._advance(t) or []

    def _advance(self, t: float) -> list[dict[str, Any]] | None:
        """``advance``; None when no tick published anything (no list made per event)."""
        alerts: list[dict[str, Any]] | None = None
        clock = self.clock  # (once: compiled, each read of the field unboxes a float; a tick does not move it)
        if clock is not None and t > clock:
            step = self._tick
            nxt = (math.floor(clock / step) + 1) * step
            while nxt <= t:
                if not self._scan_all and not self._rescan:
                    due = self._index.peek()
                    if due is None:
                        break
                    # skip the ticks at which nobody is due: the first can come after due (before every due time)
                    nxt = max(nxt, (math.floor(due / step) + 1) * step)
                    if nxt > t:
                        break
                published = self.tick(nxt)
                if published:
                    if alerts is None:
                        alerts = published
                    else:
                        alerts.extend(published)
                nxt += step
        if clock is None or t > clock:
            self.clock = t
        return alerts

    def apply(self, event: Event, watermark: float | None = None) -> Processed:
        """Apply one event and evaluate its customer at the event's time.

        Lateness is judged against ``watermark`` (the partition's watermark: the lowest of the
        latest times its inputs have reached, given by the wall-clock door) or, without one,
        against the clock (replay and the event clock, which apply events in time order).
        """
        ts = event.ts
        mark = self._mark(watermark)
        if mark is not None and ts < mark - self._lateness:
            raise BadInput(
                Reason.TOO_LATE,
                f"event time {format_ts(ts)} is {(mark - ts) / 3600:.1f} h behind the partition's watermark "
                f"{format_ts(mark)}; the allowed lateness is {self.config.allowed_lateness / 3600:g} h",
            )
        cid = event.customer_id
        state = self._state_of(cid)
        new = state is None
        if state is None:
            state = CustomerState()
            self._agg.add(ts)
        try:
            return self._apply_to(cid, state, event, new, watermark)
        except Exception:
            # the object may be half-changed: the customer goes back to its last committed state,
            # and a new one is forgotten (the engine's side effects come last, after any failure)
            self._cache.pop(cid, None)
            self._dirty.pop(cid, None)
            if new:
                self._agg.discard_new()
            raise

    def _mark(self, watermark: float | None) -> float | None:
        """What lateness is measured against: the watermark when given, never past the clock."""
        clock = self.clock
        if watermark is None or clock is None:
            return clock
        return min(clock, watermark)

    def _apply_to(self, cid: str, state: CustomerState, event: Event, new: bool, watermark: float | None) -> Processed:
        ts = event.ts
        if state.seen_before(event.event_id):
            if new:
                self._save(cid, state)
            return Duplicate()
        if self.clock is None or ts > self.clock:
            self.clock = ts
        # state keeps what a late event may still need: lateness counts from the watermark when
        # there is one (an input with nothing seen yet gives no bound: then from the event itself)
        mark = self.clock
        if watermark is not None:
            mark = ts if watermark == -math.inf else min(mark, watermark)
        ref = int(mark - self._lateness)
        old_nps, prior = state.last_nps, state.last_login
        apply_event(state, event, ref)
        quiet = unchanged_by(event, state, ts, self.clock, prior, self._quiet_epoch)
        if quiet != EVALUATE:
            self._quiet_login(cid, state, ts, quiet == LOGGED_IN)
            return Processed()
        alert = self._evaluate(cid, state, ts, from_index=False)
        if state.last_nps is not old_nps:  # a survey answer (else no NPS class can change)
            self._agg.nps_changed(None if old_nps is None else int(old_nps.value), state.nps)
        self._save(cid, state)
        return Processed((alert,)) if alert else Processed()

    def _quiet_login(self, cid: str, state: CustomerState, t: float, logged_in: bool) -> None:
        """A login ``rules.quiet`` found cannot change the customer's result: its due time, the view told."""
        self.quiet_logins += 1
        if logged_in:  # (a failed login changes no history: the due time stands)
            old = state.due
            state.due = due_after_login(state, t, self._crossings)
            self._index.move(cid, state.due, old)
        if self.observer is not None:
            self.observer(cid, self._quiet_evaluation, state.rar, t)
        self._save(cid, state)

    def tick(self, t: float) -> list[dict[str, Any]]:
        """Evaluate, at ``t``, every customer whose result can have changed by then."""
        alerts: list[dict[str, Any]] = []
        # the index pops live entries only (the due time each state holds): no second look at the
        # state's due time here; evaluating one customer moves no other's
        popped: set[str] | None = None
        if self._scan_all or self._rescan:
            if self._rescan:  # after a new pack: everyone; those popped have no entry left
                self._rescan = False
                popped = set(self._index.pop_ids(t))
            candidates = self.customers()
            candidates.sort()  # customers in id order: the same order whatever the index (pop_ids' order)
        else:
            candidates = self._index.pop_ids(t)
        for cid in candidates:
            state = self._state_of(cid)
            if state is None:
                continue
            try:
                alert = self._evaluate(cid, state, t, from_index=popped is None or cid in popped)
            except Exception:
                self._cache.pop(cid, None)
                self._dirty.pop(cid, None)
                raise
            self._save(cid, state)
            if alert:
                alerts.append(alert)
        return alerts

    def finish(self, t: float | None = None) -> list[dict[str, Any]]:
        """The final tick of a replay at ``t`` (default: the last event's time), after the ticks
        the clock crosses on its way there; then everything is committed."""
        at = self.clock if t is None else t
        alerts = [] if at is None else self.advance(at) + self.tick(at)
        self.commit()
        return alerts

    # -- evaluation ----------------------------------------------------------------------------

    def _evaluate(self, cid: str, state: CustomerState, t: float, *, from_index: bool) -> dict[str, Any] | None:
        """Evaluate the customer at ``t``: its alert (if any), its bookkeeping, its next due time.
        Everything that can fail comes before the engine's own side effects (aggregates, views)."""
        self.evaluations += 1
        signals, derived = frame_values(state, t, self._lifespan, self._order_value, self._value)
        if self._with_model:  # without one the list ends with the frame's part: the pack reads the model's as null
            signals.extend(model_part(state, t, self.config.model, self._model_names))
        evaluation = self.pack.evaluate_values(signals)
        if state.ack is not None:  # (most customers: none; no call)
            acknowledgement.expire(state, t, self._limit)
        rank = TIER_RANK[evaluation.tier]
        before = state.alert
        alert = None
        if rank > before.tier or (rank == 0 and before.tier > 0):  # else decide() changes nothing
            alert = self._decide(cid, state, before, evaluation, t)
        alert = self._screen_and_record(state, before, alert, evaluation, rank, t)
        old_tier, old_rar, was_lost = state.tier, state.rar, state.lost
        # the revenue at risk is 0.0 at a score of 0 whatever the customer value (never negative):
        # the value (a rounding) is computed for a score above 0 only, unless the pack reads it
        value = signals[VALUE] if self._value or not evaluation.score else None
        if value is None and evaluation.score:
            value = customer_value(state, t, self._lifespan)
        self._bookkeep(state, rank, 0.0 if value is None else revenue_at_risk(value, evaluation.score), signals, t)
        old_due = state.due
        due = next_due(
            state,
            t,
            self._crossings,
            cooldown=self._cooldown,
            lost_after=self._lost_after,
            tick=self._tick,
            fired=evaluation.hits,
            derived=derived,
            signals=signals,
        )
        if self.clock is not None and t < self.clock:  # a late event's evaluation: later events enter the windows
            due = held_after(state, t, due)
        due = state.due = acknowledgement.due(state.ack, due)
        # side effects on the engine
        self._agg.moved(old_tier, old_rar, rank, state.rar)
        if state.lost and not was_lost:
            self._agg.lost(t)
        if rank and self._track_risky:
            self._risky[cid] = (rank, evaluation.score, state.rar)
        elif cid in self._risky:
            del self._risky[cid]
        if self.observer is not None:
            self.observer(cid, evaluation, state.rar, t)
        self._index.move(cid, due, None if from_index else old_due)  # a popped customer has no entry
        if self._quiet_epoch and state.memo is not None:  # (rules.quiet)
            quiet = rank == 0 and not evaluation.hits and state.alert.tier == 0 and state.ack is None
            state.memo.quiet = self._quiet_epoch if quiet else 0
        return alert

    def _decide(self, cid: str, state: CustomerState, before: AlertMemory, ev: Evaluation, t: float) -> Alert | None:
        """``decide``, with the signals computed only for an alert (a partial: compiled, a closure
        would make every local of the method holding it a field of an object built per call)."""
        if self.config.model is None:  # the frame's signals and the model's null (rules.frame, compiled)
            signals = partial(frame_signals, state, t, self._lifespan, NULL_SIGNALS)
        else:
            signals = partial(compute_signals, state, t, self._signal_config)
        state.alert, alert = decide(before, ev, customer_id=cid, t=t, cooldown=self._cooldown, signals=signals)
        return alert

    def _screen_and_record(
        self, state: CustomerState, before: AlertMemory, alert: Alert | None, ev: Evaluation, rank: int, t: float
    ) -> dict[str, Any] | None:
        """An active acknowledgement holds back a firing at its tier or below (the memory stays as
        ``before``); the history records a change of tier (``rank``: the evaluation's) or firing rules."""
        kept = alert
        state.alert, alert = acknowledgement.screen(state.ack, t, before, state.alert, alert)
        self.held_back += kept is not None and alert is None
        names = [h.rule for h in ev.hits] if ev.hits else NO_RULES  # most evaluations fire nothing
        history.record(state.history, t, rank, ev.score, names, self._limit)
        return alert

    def _bookkeep(self, state: CustomerState, rank: int, rar: float, signals: list[Any], t: float) -> None:
        """The customer's tier, revenue at risk, critical-since time and lost flag after an evaluation."""
        state.tier = rank
        state.rar = rar
        if rank == 3:
            if state.critical_since is None:
                state.critical_since = int(t)
        else:
            state.critical_since = None
        if not state.lost and (
            signals[SUBSCRIPTION] == "cancelled"
            or (state.critical_since is not None and t - state.critical_since >= self._lost_after)
        ):
            state.lost = True

    def acknowledge(self, ack: Acknowledgement) -> bool:
        """Record an acknowledgement of a known customer at ``ack.ts`` (``rules.acknowledgement``);
        False for a customer never seen. Publishes nothing; the customer comes due at its end."""
        state = self._state_of(ack.customer_id)
        if state is None:
            return False
        acknowledgement.apply(state, ack, self.config.history_limit)
        old, due = state.due, acknowledgement.due(state.ack, state.due)
        if due != old:
            state.due = due
            assert due is not None
            self._index.push(due, ack.customer_id, old)
        self._save(ack.customer_id, state)
        return True

    def rebuild_index(self, keys: Iterable[str] | None = None) -> None:
        """Rebuild the due index and the aggregates from the store (after a changelog recovery)."""
        rebuild_index(self, keys)
