"""The Faust app: input topics in, alerts and dead letters out, state in a changelogged table.

A thin adapter over :mod:`rules.engine` (through :class:`agents.pipeline.Pipeline`): one agent
reads the four co-partitioned input topics as raw bytes, so that bad input is ours to catch; each
partition has its own engine (and, with ``CHURNWATCH_CLOCK=event``, its own event clock); timers
tick the engines (wall clock), flush the Redis view, refresh the gauges and reload the rule pack.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP

from agents import core
from agents.ack_order import AckOrder
from agents.dead_letter_send import DEAD_LETTER_ATTEMPTS, dead_letter_retrying
from agents.dead_letter_watch import DeadLetterWatch
from agents.faust_codec import register_codec
from agents.faust_consumer import Transport
from agents.gc_tuning import quiet_gc
from agents.input_order import InputOrder, Verdict
from agents.lag import update_lag
from agents.malloc_trim import Trimmer
from agents.metrics import Metrics
from agents.pack_file import load_pack
from agents.partition_store import PartitionStore, StateTable
from agents.pipeline import Outcome, Pipeline
from agents.redis_view import RedisView
from agents.settings import Clock, SecurityProtocol, Settings, load_settings
from agents.web import register_views
from rules.pack import PackError
from streams import cloudevents

log = logging.getLogger("churnwatch")
CONSUMER_FETCH_BYTES = 256 * 1024
# a partition's highwater older than this (its last fetch response) says nothing of what is unread:
# the consumer fetches every partition at least every 1.5 s (Faust's fetch_max_wait_ms)
HIGHWATER_FRESH_SECONDS = 4.0
CAUGHT_UP_REUSE_SECONDS = 0.1


def _credentials(settings: Settings) -> Any:
    from agents.kafka_config import ssl_context

    context = ssl_context(settings)
    protocol = settings.kafka_security_protocol
    if protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password,
            mechanism=settings.kafka_sasl_mechanism.value,
            ssl_context=context,
        )
    if protocol is SecurityProtocol.SSL:
        return faust.SSLCredentials(context)
    return None


class App(faust.App):
    """Faust's app, with a hook that runs first when it stops (while the worker still is a member
    of its group, before Faust stops the consumer and the group hands its partitions on), and
    the consumer of :mod:`agents.faust_consumer`."""

    before_stop: Callable[[], Awaitable[None]] | None = None
    # called by the consumer when it seeks input partitions back to their committed offsets
    on_input_seek: Callable[[Mapping[TP, int]], None] | None = None
    input_topics: frozenset[str] = frozenset()  # the consumer seeks these to the log's start when uncommitted

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    async def on_stop(self) -> None:
        if self.before_stop is not None:
            await self.before_stop()
        await super().on_stop()


class Worker:
    """Everything the app's agents, timers and views share."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.pack = load_pack(settings.rules)
        self.pack_mtime = _mtime(settings)
        self.redis: RedisView | None = None
        if settings.redis_url is not None:
            self.redis = RedisView(settings.redis_url.get_secret_value(), ssl_ca_certs=settings.redis_ssl_cafile)
        register_codec()
        self.app = App(
            settings.app_id,
            broker=[f"kafka://{s.strip()}" for s in settings.kafka_bootstrap.split(",") if s.strip()],
            broker_credentials=_credentials(settings),
            store=settings.store,
            datadir=str(settings.data_dir),
            web_port=settings.web_port,
            web_bind=settings.web_bind,
            web_host=settings.web_host or None,
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            key_serializer="raw",
            value_serializer="raw",
            consumer_auto_offset_reset="earliest",
            # offsets commit on the 1 s interval: a commit by count runs inline in Faust's fetch loop
            # (flushing the producer first) and held the stream up; at a worker's rates the interval comes first
            broker_commit_every=100_000,
            broker_commit_interval=1.0,
            autodiscover=False,
            web_enabled=True,
            producer_linger_ms=5,
            # bytes fetched per input partition per request (Faust's default 1 MiB): a worker reading a
            # backlog held each response's records, parsed, while it applied them, and the allocator
            # kept what they freed between the customers' states written meanwhile; at 256 KiB its RSS
            # per customer halved (bench.scale.worker_run, 100k customers), at the same events per
            # CPU-second. A larger message still comes whole (the broker returns a partition's first
            # batch whatever its size).
            consumer_max_fetch_size=CONSUMER_FETCH_BYTES,
            producer_max_batch_size=1_048_576,
            broker_session_timeout=settings.session_timeout_seconds,
            # events held by the event-clock aligner are never acknowledged until applied: waiting
            # for "all streams empty" on a rebalance or at shutdown would wait for them forever.
            # Nothing is lost without the wait: unacknowledged events are delivered again to the
            # partition's next owner, and agents.progress skips those its state already holds.
            stream_wait_empty=False,
            broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 4),
            # no standby replicas: seen once in the fault suite (a worker killed and restarted while a
            # second joined and left), Faust's recovery held changelog partitions of one worker both as
            # active and as standby, paused them with the standbys, and the active recovery stalled ("No
            # event received for active tp"). Without standbys that path does not exist; a partition's
            # next owner recovers it from the changelog (RocksDB: from the offsets it already holds).
            table_standby_replicas=0,
            Worker="agents.faust_worker:Worker",
        )
        if settings.faust_metrics:
            # Faust's own sensor, in our registry (served by our /metrics)
            self.app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(self.metrics.registry, "churnwatch_faust"))
        self.inputs = self.app.topic(*settings.input_topics.values(), key_serializer="raw", value_serializer="raw")
        self.alerts_topic = self.app.topic(settings.topic("alerts"), key_serializer="raw", value_serializer="orjson")
        self.dead_topic = self.app.topic(
            settings.topic("dead_letters"), key_serializer="raw", value_serializer="orjson"
        )
        self.table: StateTable = self.app.tables.add(  # type: ignore[assignment]
            StateTable(
                self.app,
                name="customer_state",
                default=None,
                beacon=self.app.tables.beacon,
                schema=faust.Schema(key_type=str, value_type=bytes, key_serializer="raw", value_serializer="raw"),
                partitions=settings.partitions,
                help="encoded per-customer state (rules/state.py)",
            )
        )
        self.stores: dict[int, PartitionStore] = {}
        self.owned: set[int] = set()  # partitions whose state is recovered and whose events this worker handles
        # messages received, their last offset per input partition; acknowledged in offset order at the next state flush
        self.acks = AckOrder()
        self.trimmer = Trimmer()  # agents.malloc_trim: freed memory back to the system after a burst
        self.order = InputOrder()  # each input partition's messages once, in offset order, from the committed offset
        self._stalls: dict[TP, tuple[int, int]] = {}  # input partitions read again: at which offset, how often in a row
        self._flushing = asyncio.Lock()
        self._redis_lock = asyncio.Lock()  # one Redis write at a time: a revoked partition's last batch lands first
        self._caught_up_of: dict[int, Callable[[str], bool]] = {}
        self.pipeline = Pipeline(
            settings,
            self.pack,
            self.metrics,
            self._store_for,
            observer=self.redis.observe if self.redis else None,
            progress_for=lambda partition: self._store_for(partition).progress,
            canonical_id=None if settings.store.startswith("rocksdb") else self._canonical_id,
        )
        self.app.before_stop = self.leave
        self.app.on_input_seek = self.restart_inputs
        self.app.input_topics = frozenset(settings.input_topics.values())
        self.ce_source = cloudevents.source_of(settings.app_id)
        self.dead_letter_watch = DeadLetterWatch(self.metrics, settings)
        self.started = time.time()
        self._next_tick: float | None = None
        self._wire()

    # -- agents and timers ---------------------------------------------------------------------

    def _wire(self) -> None:
        app, settings, pipeline = self.app, self.settings, self.pipeline

        @app.agent(self.inputs, name="churnwatch-events")
        async def events(stream: Any) -> None:
            order = self.order
            async for event in stream.noack().events():
                msg = event.message
                if msg.partition not in self.owned:
                    continue  # revoked while buffered: not acknowledged, its next owner gets it again
                verdict = order.admit(msg.tp, msg.offset)
                if verdict is not Verdict.ADMIT:
                    start = order.next_offset(msg.tp)
                    if verdict is Verdict.REREAD and start is not None:  # messages before it never came
                        log.info(
                            "%s[%d]: read again from offset %s (%d came first)",
                            msg.topic,
                            msg.partition,
                            start,
                            msg.offset,
                        )
                        await self.reread(msg.tp, start)
                    continue
                slot = self.acks.received(msg.tp, msg.offset)
                received = time.time()
                out = pipeline.handle(
                    msg.topic,
                    msg.partition,
                    msg.offset,
                    msg.key,
                    msg.value,
                    received,
                    ack=functools.partial(AckOrder.handled, slot, event.ack),
                    caught_up=self._caught_up(msg.partition),
                )
                if out.alerts or out.dead_letter is not None:
                    await self.emit(out)

        @app.task
        async def tune_gc() -> None:
            quiet_gc()  # agents.gc_tuning: its pauses showed up in the event-to-alert p99

        @app.task
        async def drop_idle_monitor() -> None:
            # Faust's default monitor does bookkeeping on every event that nothing reads unless
            # CHURNWATCH_FAUST_METRICS exports it; it joins the sensors when the app starts.
            if not settings.faust_metrics and app.monitor in set(app.sensors):
                app.sensors.remove(app.monitor)

        @app.timer(interval=0.2, name="churnwatch-state-flush")
        async def state_flush() -> None:
            self.trimmer.flushed(await self.flush_state())

        @app.timer(interval=0.25, name="churnwatch-event-clock-release")
        async def release_aligned() -> None:
            if app.rebalancing:
                return
            if settings.clock is not Clock.EVENT:
                for partition, marks in list(pipeline.watermarks.items()):
                    marks.value(self._caught_up(partition))  # samples its topics' quiet time between events
                return
            for partition in list(pipeline.aligners):
                out = Outcome()
                pipeline.release(partition, self._caught_up(partition), out)
                await self.emit(out)

        @app.timer(interval=1.0, name="churnwatch-input-watch")
        async def input_watch() -> None:
            if app.rebalancing:
                return
            consumer: Any = app.consumer
            for topic in sorted(self.input_topics):
                for partition in sorted(self.owned):
                    tp = TP(topic, partition)
                    try:
                        highwater = consumer.highwater(tp)
                    except Exception:  # not assigned (any more): nothing to watch
                        continue
                    if self.order.stalled(tp, highwater):
                        await self.read_stalled_again(tp)

        @app.timer(interval=1.0, name="churnwatch-wall-ticks")
        async def wall_ticks() -> None:
            if settings.clock is not Clock.WALL or app.rebalancing:
                return
            step = settings.effective_tick_seconds
            now = time.time()
            due = (now // step) * step
            if self._next_tick is None:
                self._next_tick = due + step
                return
            if now < self._next_tick:
                return
            self._next_tick = due + step
            started = time.time()
            for alert in pipeline.tick(due):
                await self.publish(alert, started)

        @app.timer(interval=settings.redis_flush_seconds, name="churnwatch-redis-flush")
        async def redis_flush() -> None:
            if self.redis is None:
                return
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, self.redis.restarted):
                log.warning("Redis restarted: rewriting the whole view")
                await self.refresh_views()
            before = self.redis.failures
            async with self._redis_lock:
                await loop.run_in_executor(None, self.redis.flush)
            if self.redis.failures > before:
                self.metrics.redis_failures.inc(self.redis.failures - before)
            self.metrics.redis_pending.set(len(self.redis.dirty))

        @app.timer(interval=5.0, name="churnwatch-gauges")
        async def gauges() -> None:
            pipeline.update_gauges()
            self.update_uncommitted()
            await update_lag(app, self.metrics, self.input_topics, self.order.next_offset)

        @app.timer(interval=settings.dead_letter_warn_seconds, name="churnwatch-dead-letter-watch")
        async def dead_letter_watch() -> None:
            warning = self.dead_letter_watch.check()
            if warning:
                log.warning("%s", warning)

        @app.timer(interval=5.0, name="churnwatch-rule-pack-reload")
        async def reload_rules() -> None:
            mtime = _mtime(settings)
            if mtime == self.pack_mtime:
                return
            self.pack_mtime = mtime
            try:
                pack = load_pack(settings.rules)
            except PackError as exc:
                self.metrics.rule_pack_reloads.labels("error").inc()
                log.error("rule pack %s not reloaded, keeping the previous one:\n%s", settings.rules, exc)
                return
            pipeline.set_pack(pack)
            self.pack = pack
            self.metrics.rule_pack_reloads.labels("ok").inc()
            log.info("rule pack %s reloaded: %d rules", settings.rules, len(pack.rules))

        @app.on_partitions_revoked.connect  # type: ignore[arg-type]
        async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
            partitions = {tp.partition for tp in revoked if tp.topic in self.input_topics}
            await self.release_partitions(partitions)

        @app.on_rebalance_complete.connect  # type: ignore[arg-type]
        async def on_assigned(sender: Any, **kwargs: Any) -> None:
            # sent once the tables are recovered, before the streams resume
            # (the assignment also holds Faust's own topics: its leader topic, the changelogs)
            actives = app.assignor.assigned_actives()
            await self.take_partitions({tp.partition for tp in actives if tp.topic in self.input_topics})

        register_views(self)

    def _canonical_id(self, partition: int, customer_id: str) -> str:
        return self._store_for(partition).canonical(customer_id)

    def _store_for(self, partition: int) -> PartitionStore:
        store = self.stores.get(partition)
        if store is None:
            store = self.stores[partition] = PartitionStore(self.table, partition)
        return store

    @property
    def input_topics(self) -> frozenset[str]:
        """The input topics' names (the app's, set once at start)."""
        return self.app.input_topics

    async def flush_state(self) -> int:
        """Changelog the changed customers and the offsets they cover, then acknowledge the
        events behind the changes (so a committed offset never outruns the state); returns
        how many keys went to the changelog."""
        written = 0
        async with self._flushing:
            # taken before the commit: what is handled after it waits for the next flush
            acks = self.acks.take(self.owned)
            for partition, engine in list(self.pipeline.engines.items()):
                self._raise_floors(partition)
                engine.commit()
                self._store_for(partition).checkpoint()  # nothing is applied between the two
                await asyncio.sleep(0)  # one partition's encoding at a time: the agent runs in between
            for store in list(self.stores.values()):
                written += await store.flush()
            for partition, partition_acks in acks.items():
                if partition in self.owned:  # a revoked partition's offsets are its next owner's
                    for ack in partition_acks:
                        ack()
        return written

    def _raise_floors(self, partition: int) -> None:
        """Offsets below Kafka's committed offset are handled: the progress record forgets them."""
        committed = getattr(self.app.consumer, "_committed_offset", {})
        progress = self._store_for(partition).progress
        for topic in self.input_topics:
            offset = committed.get(TP(topic, partition))
            if offset:
                progress.raise_floor(topic, offset)

    def update_uncommitted(self) -> None:
        """The gap between the offsets handled (in the state) and those committed, per topic."""
        committed = getattr(self.app.consumer, "_committed_offset", {})
        for topic in self.input_topics:
            gap = 0
            for p in self.owned:
                handled = self._store_for(p).progress.topics.get(topic)
                if handled is None:
                    continue
                top = handled.ends[-1] if handled.ends else handled.floor
                gap += max(0, top - (committed.get(TP(topic, p)) or 0))
            self.metrics.uncommitted.labels(topic).set(gap)

    async def take_partitions(self, assigned: set[int]) -> None:
        """Engines for the partitions assigned (their state recovered), and their views refreshed."""
        for p in set(self.pipeline.engines) - assigned:
            await self.release_partitions({p})
        self.owned = set(assigned)
        self.acks.forget(assigned)  # the streams resume at the committed offsets
        self.order.stop(assigned)  # nothing admitted until the consumer seeks them there
        recovered = 0
        for p in sorted(assigned):
            if p not in self.pipeline.engines:
                keys = self.table.partition_keys(p)
                self.pipeline.engine(p, keys)
                recovered += len(keys)
        log.info("partitions %s ready (%d keys recovered; %s core)", sorted(assigned), recovered, core.active())
        await self.refresh_views(assigned)

    def restart_inputs(self, sought: Mapping[TP, int]) -> None:
        """The consumer sought these input partitions to their committed offsets (or the log's
        start, where the group has none): their runs start there (``agents.input_order``). What
        was admitted from them before comes again; their held events and pending
        acknowledgements go, so that each is applied in order, once."""
        restarted = sorted(tp for tp in sought if tp.topic in self.input_topics and tp.partition in self.owned)
        for tp in restarted:
            self.order.start(tp, sought[tp])
            self.acks.forget_topic_partition(tp)
            self.pipeline.restart(tp.partition, tp.topic)
        if restarted:
            log.info(
                "read again from the committed offsets: %s",
                ", ".join(f"{t}[{p}]@{sought[TP(t, p)]}" for t, p in restarted),
            )

    async def read_stalled_again(self, tp: TP) -> None:
        """An input partition with messages to read admitted none for a few seconds: read it again
        from its next offset, or from the log's start if retention deleted that offset unread."""
        consumer: Any = self.app.consumer
        start = self.order.next_offset(tp)
        if start is None:
            return
        try:
            earliest = (await consumer.earliest_offsets(tp)).get(tp)
        except Exception as exc:  # the broker away, or revoked meanwhile: the next check tries again
            log.info("%s[%d]: no log start offset (%s)", tp.topic, tp.partition, exc)
            return
        if earliest is not None and start < earliest:
            log.error(
                "%s[%d]: offsets %d..%d were deleted by the topic's retention before this worker read them; "
                "reading on from %d (those events are lost: keep the input topics' retention above the "
                "longest outage)",
                tp.topic,
                tp.partition,
                start,
                earliest - 1,
                earliest,
            )
            self.order.start(tp, earliest)
            await self.reread(tp, earliest, gone_from=start)
            return
        at, stalls = self._stalls.get(tp, (start, 0))
        stalls = stalls + 1 if at == start else 1
        self._stalls[tp] = (start, stalls)
        report = log.error if stalls >= 3 else log.warning
        report(
            "%s[%d]: offset %d has not come (%d time(s) in a row); reading again from it%s",
            tp.topic,
            tp.partition,
            start,
            stalls,
            " (a transactional or compacted input topic leaves such holes: not supported)" if stalls >= 3 else "",
        )
        await self.reread(tp, start)

    async def reread(self, tp: TP, offset: int, *, gone_from: int | None = None) -> None:
        """Have the consumer read ``tp`` again from ``offset`` (``gone_from``: the offsets from
        there up to ``offset`` are gone from the topic, and commits may pass them)."""
        consumer: Any = self.app.consumer
        try:
            if gone_from is None:
                await consumer.reread(tp, offset)
            else:
                await consumer.skip_to(tp, gone_from, offset)
        except Exception as exc:  # revoked meanwhile: its next owner reads it from the committed offset
            log.info("%s[%d] not read again: %s", tp.topic, tp.partition, exc)

    async def leave(self) -> None:
        """Stopping: the state of every partition to the changelog and its events acknowledged,
        then nothing more is written, so nothing lands after the partitions' next owners start."""
        await self.flush_state()
        await self.release_partitions(set(self.owned))

    async def release_partitions(self, partitions: set[int]) -> None:
        """Revoked (or stopping): changelog what was applied, drop the rest.

        Events held by the aligner and events applied since the last flush are not acknowledged:
        the next owner gets them again, and skips those whose offsets the changelog holds."""
        if not partitions:
            return
        self.acks.forget(partitions)
        self.order.stop(partitions)
        self.owned -= partitions
        await self.flush_state()
        await self.app.producer.flush()
        if self.redis is not None:  # the next owner rewrites these customers' view: drop ours
            async with self._redis_lock:
                engines = [self.pipeline.engines[p] for p in partitions if p in self.pipeline.engines]
                for engine in engines:
                    for cid in engine.customers():
                        self.redis.dirty.pop(cid, None)
        for p in partitions:
            self.stores.pop(p, None)
        self.pipeline.drop(partitions)

    async def refresh_views(self, partitions: set[int] | None = None) -> None:
        """Re-read every customer of these partitions (default: all of this worker's) at its
        partition's clock for /at-risk and the Redis view, and remove from Redis's at-risk set
        the members of these partitions that have no state here (after a recovery, a crash that
        left the view behind the state, or a Redis that lost its data)."""
        wanted = set(self.pipeline.engines) if partitions is None else partitions
        known: set[str] = set()
        for p in sorted(wanted):
            engine = self.pipeline.engines.get(p)
            if engine is None:
                continue
            for i, cid in enumerate(engine.customers()):
                known.add(cid)
                engine.refresh(cid)
                if i % 500 == 499:
                    await asyncio.sleep(0)
        if self.redis is None:
            return
        redis_view = self.redis
        topic = self.settings.input_topics["login"]
        count = self.app.consumer.topic_partitions(topic) or self.settings.partitions
        async with self._redis_lock:
            loop = asyncio.get_running_loop()
            removed = await loop.run_in_executor(None, lambda: redis_view.remove_unknown(wanted, count, known))
        if removed:
            log.info("Redis view: %d at-risk entries of this worker's partitions had no state; removed", removed)

    def _caught_up(self, partition: int) -> Callable[[str], bool]:
        """Whether a topic's partition has nothing unread (it then holds no watermark back)."""
        known = self._caught_up_of.get(partition)
        if known is None:
            known = self._caught_up_of[partition] = self._make_caught_up(partition)
        return known

    def _make_caught_up(self, partition: int) -> Callable[[str], bool]:
        """Caught up: the last fetch response for the topic's partition is fresh, and every message
        below its highwater has reached the events agent. A stale highwater says nothing (the broker
        away, or the partition's leader not back after a restart: fetches of it fail and leave the old
        value); and Faust's read offset counts messages still queued for the agent. After an outage
        every topic has been quiet longer than the idle grace, and the first batch queues one topic's
        new events before another's older ones: either gap let that topic run ahead of the other
        (seen in the fault suite as good events dead-lettered ``too_late`` after a broker restart)."""
        consumer: Any = self.app.consumer
        tps: dict[str, TP] = {}
        known: dict[str, tuple[float, bool]] = {}  # topic: (when checked, answer)

        def caught_up(topic: str) -> bool:
            # asked for every topic at every event: an answer stays good for a tenth of a second
            # (the highwater itself is up to a fetch interval old)
            now = time.monotonic()
            cached = known.get(topic)
            if cached is not None and now - cached[0] < CAUGHT_UP_REUSE_SECONDS:
                return cached[1]
            tp = tps.get(topic) or tps.setdefault(topic, TP(topic, partition))
            answer = _caught_up(tp)
            known[topic] = (now, answer)
            return answer

        def _caught_up(tp: TP) -> bool:
            try:
                client = consumer._thread._ensure_consumer()  # aiokafka's consumer
                highwater = client.highwater(tp)
                polled = client.last_poll_timestamp(tp)
            except Exception:
                return False
            if highwater is None or polled is None or time.time() - polled / 1000 > HIGHWATER_FRESH_SECONDS:
                return False
            last = self.acks.last(tp)
            if last is not None:
                return bool(last + 1 >= highwater)
            # nothing reached the agent since the assignment: Faust's read offset is then the committed
            # position (nothing to read when the highwater is there), or a message already queued
            position = consumer._read_offset.get(tp)
            return bool(highwater <= (position if position is not None else 0))

        return caught_up

    async def emit(self, out: Outcome) -> None:
        for alert in out.alerts:
            await self.publish(alert, out.received or time.time())
        if out.dead_letter is not None:
            await self.send_dead_letter(out.dead_letter)

    async def send_dead_letter(self, d: dict[str, Any]) -> None:
        """Send a dead letter, retried with backoff; a send that still fails is counted and logged
        (with where the message came from, so it can be found again), never raised into the agent."""
        key = base64.b64decode(d["key_base64"]) if d.get("key_base64") else None
        try:
            async for attempt in dead_letter_retrying():
                with attempt:
                    await self.dead_topic.send(key=key, value=d)
        except Exception as exc:
            self.metrics.dead_letter_failures.inc()
            log.error(
                "dead letter for %s[%s]@%s (reason %s) not sent after %d attempts: %s: %s",
                d.get("topic"),
                d.get("partition"),
                d.get("offset"),
                d.get("reason"),
                DEAD_LETTER_ATTEMPTS,
                type(exc).__name__,
                exc,
            )

    async def publish(self, alert: dict[str, Any], received: float) -> None:
        alert = self.pipeline.finish_alert(alert, received)
        headers = cloudevents.kafka_headers(alert, self.ce_source)  # binary mode: the value stays the alert
        await self.alerts_topic.send(key=alert["customer_id"].encode(), value=alert, headers=headers)


def _mtime(settings: Settings) -> float:
    try:
        return settings.rules.stat().st_mtime
    except OSError:
        return 0.0


def create_worker(settings: Settings | None = None) -> Worker:
    return Worker(settings or load_settings())


def create_app(settings: Settings | None = None) -> faust.App:
    """The Faust app (what ``churnwatch worker`` runs)."""
    return create_worker(settings).app


if __name__ == "__main__":
    create_app().main()
