"""The ``churnwatch notify`` service: a Kafka consumer of the alerts topic that delivers to webhooks.

- **Its own consumer group** (``CHURNWATCH_NOTIFY_GROUP``, default ``<app id>-notify``): it scales
  like the worker, one process per share of the alerts topic's partitions.
- **At least once.** An alert's offset is committed only when every delivery it owes is done:
  accepted by the receiver, or written to the notify dead-letter topic with the reason. A crash or
  a rebalance delivers the uncommitted ones again, with the same ``Idempotency-Key`` (the alert id)
  so the receiver can drop repeats.
- **Bounded.** At most ``CHURNWATCH_NOTIFY_MAX_IN_FLIGHT`` deliveries at once; reading waits for
  a free slot. Deliveries of one customer on one route go out in order.
- **Digests.** A route with ``digest_seconds`` collects its alerts and sends one message per
  interval; their offsets are committed after the digest is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.dead_letter_send import dead_letter_retrying
from agents.kafka_config import kafka_python_config
from agents.notify.delivery import Result, deliver
from agents.notify.formats import body as alert_body
from agents.notify.formats import digest_body, digest_key
from agents.notify.metrics import NotifyMetrics
from agents.notify.offsets import OffsetTracker
from agents.notify.routes import Route, Routes
from agents.notify.settings import NotifySettings
from streams.cloudevents import http_headers, source_of
from streams.timefmt import format_ts_ms

log = logging.getLogger("churnwatch.notify")
REVOKE_WAIT_SECONDS = 10.0
STOP_WAIT_SECONDS = 20.0
COMMIT_INTERVAL = 1.0
USER_AGENT = "churnwatch-notify"


class _Listener(ConsumerRebalanceListener):
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.notifier.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("notify: partitions %s assigned", sorted(tp.partition for tp in assigned))


class Notifier:
    def __init__(self, settings: NotifySettings, routes: Routes, metrics: NotifyMetrics | None = None) -> None:
        self.settings = settings
        self.routes = routes
        self.redact = routes.redactor
        self.metrics = metrics or NotifyMetrics()
        self.topic = settings.topic("alerts")
        self.dead_topic = settings.topic("notify_dead_letters")
        self.source = source_of(settings.app_id)
        self.tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self.slots = asyncio.Semaphore(settings.notify_max_in_flight)
        self.tasks: dict[asyncio.Task[None], TopicPartition] = {}
        self.chains: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.digests: dict[str, list[tuple[TopicPartition, int, dict[str, Any]]]] = {
            r.name: [] for r in routes.routes if r.digest_seconds > 0
        }
        self.committed: dict[TopicPartition, int] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.session: aiohttp.ClientSession | None = None
        self.ready = False

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        kafka = kafka_python_config(s)  # aiokafka takes the same names for these options
        self.consumer = AIOKafkaConsumer(
            group_id=s.notify_group_id,
            client_id="churnwatch-notify",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(s.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(min(3.0, s.session_timeout_seconds / 4) * 1000),
            max_poll_records=s.notify_max_in_flight,
            **kafka,
        )
        self.producer = AIOKafkaProducer(client_id="churnwatch-notify", acks="all", **kafka)
        self.session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        await self.producer.start()
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=_Listener(self))
        digesters = [asyncio.create_task(self._digest_loop(r, stop)) for r in self.routes.routes if r.digest_seconds]
        self.ready = True
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                batches = await self.consumer.getmany(timeout_ms=500, max_records=s.notify_max_in_flight)
                for tp, messages in batches.items():
                    for message in messages:
                        if stop.is_set() or tp not in self.consumer.assignment():
                            break  # revoked while this batch waited for a slot: its next owner reads it
                        await self._handle(tp, message.offset, message.value, stop)
                if time.monotonic() - last_commit >= COMMIT_INTERVAL:
                    await self.commit()
                    last_commit = time.monotonic()
        finally:
            self.ready = False
            for task in digesters:
                task.cancel()
            await asyncio.gather(*digesters, return_exceptions=True)
            await self._flush_digests(set(self.digests))
            await self._wait_tasks(set(self.tasks), STOP_WAIT_SECONDS)
            await self.commit()
            await self.consumer.stop()  # leaves the group: the partitions move at once
            await self.producer.stop()
            await self.session.close()

    async def _handle(self, tp: TopicPartition, offset: int, value: bytes | None, stop: asyncio.Event) -> None:
        try:
            alert = orjson.loads(value or b"")
            if not isinstance(alert, dict) or not isinstance(alert.get("customer_id"), str):
                raise ValueError("not an alert object")
            if "alert_id" not in alert or "status" not in alert:
                raise ValueError("an alert has alert_id and status")
        except (orjson.JSONDecodeError, ValueError, KeyError) as exc:
            self.metrics.alerts.labels("invalid").inc()
            self.tracker.read(tp, offset, 1)
            record = self._dead_record(None, tp, offset, "invalid_alert", f"{type(exc).__name__}: {exc}", 0)
            record["value"] = (value or b"")[:4096].decode("utf-8", "replace")
            await self._dead_letter(tp, offset, record, None)
            return
        routes = self.routes.for_alert(alert)
        self.metrics.alerts.labels("routed" if routes else "unrouted").inc()
        self.tracker.read(tp, offset, len(routes))
        for route in routes:
            if route.digest_seconds > 0:
                self.digests[route.name].append((tp, offset, alert))
                continue
            await self.slots.acquire()
            self.metrics.in_flight.inc()
            key = (route.name, alert["customer_id"])
            previous = self.chains.get(key)
            task = asyncio.create_task(self._deliver_one(route, tp, offset, alert, time.monotonic(), previous))
            self.tasks[task] = tp
            self.chains[key] = task
            task.add_done_callback(lambda t, k=key: self._finished(t, k))  # type: ignore[misc]

    def _finished(self, task: asyncio.Task[None], key: tuple[str, str]) -> None:
        self.tasks.pop(task, None)
        if self.chains.get(key) is task:
            del self.chains[key]
        self.slots.release()
        self.metrics.in_flight.dec()

    async def _deliver_one(
        self,
        route: Route,
        tp: TopicPartition,
        offset: int,
        alert: dict[str, Any],
        read_at: float,
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # one customer's alerts reach a route in order
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(alert["alert_id"])}
        if route.format == "json":
            headers.update(http_headers(alert, self.source))
        result = await self._post(route, alert_body(route.format, alert), headers)
        if result.ok:
            self.metrics.sent.labels(route.name).inc()
            self.metrics.latency.labels(route.name).observe(time.monotonic() - read_at)
        else:
            await self._gave_up(route, result, tp, offset, alert)
            return
        self.tracker.done(tp, offset)

    async def _post(self, route: Route, body: bytes, headers: Mapping[str, str]) -> Result:
        s = self.settings
        assert self.session is not None
        return await deliver(
            self.session,
            route,
            body,
            headers,
            redact=self.redact,
            timeout=route.timeout_seconds or s.notify_timeout_seconds,
            max_attempts=route.max_attempts or s.notify_max_attempts,
            backoff_initial=s.notify_backoff_initial_seconds,
            backoff_max=s.notify_backoff_max_seconds,
            on_retry=lambda reason: self.metrics.retried.labels(route.name, reason).inc(),
        )

    async def _gave_up(
        self, route: Route, result: Result, tp: TopicPartition, offset: int, alert: dict[str, Any]
    ) -> None:
        self.metrics.failed.labels(route.name, result.reason).inc()
        log.warning(
            "notify: route %s: alert %s of customer %s not delivered (%s: %s); to %s",
            route.name,
            alert.get("alert_id"),
            alert.get("customer_id"),
            result.reason,
            result.detail,
            self.dead_topic,
        )
        record = self._dead_record(route, tp, offset, result.reason, result.detail, result.attempts)
        record.update(alert_id=alert.get("alert_id"), customer_id=alert.get("customer_id"), alert=alert)
        await self._dead_letter(tp, offset, record, str(alert.get("customer_id")))

    def _dead_record(
        self, route: Route | None, tp: TopicPartition, offset: int, reason: str, detail: str, attempts: int
    ) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "reason": reason,
            "detail": self.redact(detail),
            "route": route.name if route else None,
            "format": route.format if route else None,
            "attempts": attempts,
            "topic": tp.topic,
            "partition": tp.partition,
            "offset": offset,
            "failed_at": format_ts_ms(time.time()),
        }

    async def _dead_letter(
        self, tp: TopicPartition, offset: int, record: dict[str, Any], key: str | None, *, mark: bool = True
    ) -> bool:
        """Send a dead letter (retried); the message counts as done only once it is sent."""
        assert self.producer is not None
        producer = self.producer
        try:
            async for attempt in dead_letter_retrying():
                with attempt:
                    await producer.send_and_wait(
                        self.dead_topic, key=key.encode() if key else None, value=orjson.dumps(record)
                    )
        except KafkaError as exc:
            self.metrics.dead_letter_failures.inc()
            log.error(
                "notify: dead letter for %s[%d]@%d not sent (%s); not committed, read again after a restart",
                tp.topic,
                tp.partition,
                offset,
                type(exc).__name__,
            )
            return False
        if mark:
            self.tracker.done(tp, offset)
        return True

    # -- digests -------------------------------------------------------------------------------

    async def _digest_loop(self, route: Route, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=route.digest_seconds)
            if not stop.is_set():
                await self._flush_digests({route.name})

    async def _flush_digests(self, names: set[str]) -> None:
        for route in self.routes.routes:
            if route.name not in names or not self.digests.get(route.name):
                continue
            entries, self.digests[route.name] = self.digests[route.name], []
            alerts = [a for _, _, a in entries]
            started = time.monotonic()
            headers = {"Content-Type": "application/json", "Idempotency-Key": digest_key(alerts)}
            result = await self._post(
                route, digest_body(route.format, route.name, alerts, route.digest_seconds), headers
            )
            if result.ok:
                self.metrics.sent.labels(route.name).inc()
                self.metrics.latency.labels(route.name).observe(time.monotonic() - started)
                for tp, offset, _ in entries:
                    self.tracker.done(tp, offset)
                continue
            self.metrics.failed.labels(route.name, result.reason).inc()
            log.warning(
                "notify: route %s: digest of %d alerts not delivered (%s: %s)",
                route.name,
                len(alerts),
                result.reason,
                result.detail,
            )
            tp0, off0, _ = entries[0]
            record = self._dead_record(route, tp0, off0, result.reason, result.detail, result.attempts)
            record.update(alert_ids=[a.get("alert_id") for a in alerts], alerts=alerts, digest=True)
            if await self._dead_letter(tp0, off0, record, None, mark=False):
                for tp, offset, _ in entries:
                    self.tracker.done(tp, offset)

    # -- offsets and rebalances ----------------------------------------------------------------

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        if self.consumer is None:
            return
        assigned = self.consumer.assignment()
        offsets = {
            tp: off
            for tp, off in self.tracker.committable().items()
            if tp in assigned and (only is None or tp in only) and self.committed.get(tp) != off
        }
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("notify: commit failed (%s); the offsets are committed on the next try", type(exc).__name__)
            return
        self.committed.update(offsets)

    async def revoke(self, revoked: set[TopicPartition]) -> None:
        """Partitions leave: finish (or give up) their deliveries, commit what is done, forget them."""
        if not revoked:
            return
        for name, entries in self.digests.items():  # their next owner digests them again
            self.digests[name] = [e for e in entries if e[0] not in revoked]
        await self._wait_tasks({t for t, tp in self.tasks.items() if tp in revoked}, REVOKE_WAIT_SECONDS)
        await self.commit(revoked)
        self.tracker.forget(revoked)
        for tp in revoked:
            self.committed.pop(tp, None)
        log.info("notify: partitions %s revoked", sorted(tp.partition for tp in revoked))

    async def _wait_tasks(self, tasks: set[asyncio.Task[None]], timeout: float) -> None:
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:  # not committed: delivered again (same Idempotency-Key) by the next owner
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # -- HTTP: /metrics, /healthz --------------------------------------------------------------

    def web_app(self) -> web.Application:
        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(
                body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        async def healthz(_request: web.Request) -> web.Response:
            assigned = sorted(tp.partition for tp in self.consumer.assignment()) if self.consumer else []
            body = {
                "status": "ok" if self.ready else "starting",
                "partitions": assigned,
                "in_flight": len(self.tasks),
                "owed": self.tracker.owed(),
                "routes": [r.name for r in self.routes.routes],
            }
            return web.json_response(body, status=200 if self.ready else 503)

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        return app
