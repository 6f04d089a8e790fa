"""Prometheus metrics of ``churnwatch notify``, in the style of :mod:`agents.metrics`.

The ``route`` label is a route's name from the routing file (bounded: the file is small);
``reason`` is one of a few words (timeout, connection, http_<status>, rejected, retries_exhausted).
No label carries a customer id or a URL.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.alerts = Counter(
            "churnwatch_notify_alerts_total",
            "Alerts read from the alerts topic, by outcome (routed, unrouted, invalid).",
            ["outcome"],
            registry=r,
        )
        self.sent = Counter(
            "churnwatch_notify_sent_total",
            "Webhook deliveries accepted by the receiver (2xx), by route (a digest counts once).",
            ["route"],
            registry=r,
        )
        self.retried = Counter(
            "churnwatch_notify_retries_total",
            "Delivery attempts that failed and were retried, by route and reason.",
            ["route", "reason"],
            registry=r,
        )
        self.failed = Counter(
            "churnwatch_notify_failed_total",
            "Deliveries given up (sent to the notify dead-letter topic), by route and reason "
            "(rejected: a 4xx; retries_exhausted).",
            ["route", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "churnwatch_notify_delivery_seconds",
            "From reading an alert (or closing a digest) to the receiver's 2xx, retries included, by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
            registry=r,
        )
        self.in_flight = Gauge(
            "churnwatch_notify_in_flight",
            "Deliveries under way (bounded by CHURNWATCH_NOTIFY_MAX_IN_FLIGHT).",
            registry=r,
        )
        self.dead_letter_failures = Counter(
            "churnwatch_notify_dead_letter_send_failures_total",
            "Notify dead letters that could not be sent (their alerts are not committed: read again after a restart).",
            registry=r,
        )
