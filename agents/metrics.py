"""Prometheus metrics of the worker (contract section 9), in one registry.

Names follow Prometheus conventions: ``churnwatch_`` prefix, ``_total`` for counters,
``_seconds`` and base units, and only bounded labels (topic, outcome, reason, tier, status,
rule, partition). No label ever carries a customer id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """All churnwatch series; one instance per worker process, with its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "churnwatch_events_total",
            "Input events by topic and outcome (applied, duplicate, dead_letter).",
            ["topic", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "churnwatch_dead_letters_total",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.dead_letter_failures = Counter(
            "churnwatch_dead_letter_send_failures_total",
            "Dead letters that could not be sent after their retries (the worker log names each one).",
            registry=r,
        )
        self.uncommitted = Gauge(
            "churnwatch_uncommitted_offsets",
            "Input messages handled (their effect is in the state) but not yet committed to Kafka, by topic: "
            "what a crash would deliver again.",
            ["topic"],
            registry=r,
        )
        self.alerts = Counter(
            "churnwatch_alerts_total",
            "Alerts published, by tier and status (firing, resolved).",
            ["tier", "status"],
            registry=r,
        )
        self.rule_firings = Counter(
            "churnwatch_rule_firings_total",
            "Rules that fired in a published alert, by rule id.",
            ["rule"],
            registry=r,
        )
        self.customers = Gauge(
            "churnwatch_customers",
            "Customers held by this worker, by current tier.",
            ["tier"],
            registry=r,
        )
        self.revenue_at_risk = Gauge(
            "churnwatch_revenue_at_risk",
            "Sum of revenue_at_risk of this worker's customers, by tier (currency units).",
            ["tier"],
            registry=r,
        )
        self.churn_rate = Gauge(
            "churnwatch_churn_rate_percent",
            "Customers lost in the last 30 days of event time per 100 customers at its start.",
            registry=r,
        )
        self.nps = Gauge(
            "churnwatch_nps",
            "Net promoter score of this worker's customers with an NPS answer (-100..100).",
            registry=r,
        )
        self.alert_latency = Histogram(
            "churnwatch_event_to_alert_latency_seconds",
            "From receipt of the event (or tick) that caused an alert to its publication.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.tick_duration = Histogram(
            "churnwatch_tick_duration_seconds",
            "Time to evaluate the due customers of one partition at one tick.",
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0),
            registry=r,
        )
        self.tick_customers = Counter(
            "churnwatch_tick_evaluations_total",
            "Customers evaluated by ticks.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "churnwatch_consumer_lag_messages",
            "Messages not yet consumed, by input topic and partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.redis_failures = Counter(
            "churnwatch_redis_write_failures_total",
            "Failed batched writes to the Redis view.",
            registry=r,
        )
        self.redis_pending = Gauge(
            "churnwatch_redis_pending_customers",
            "Customers whose Redis view waits to be written.",
            registry=r,
        )
        self.rule_pack_reloads = Counter(
            "churnwatch_rule_pack_reloads_total",
            "Rule pack reloads by result (ok, error).",
            ["result"],
            registry=r,
        )
        self.alerts_held_back = Counter(
            "churnwatch_alerts_held_back_total",
            "Firing alerts not published because the customer is acknowledged at that tier or higher.",
            registry=r,
        )
        self.acknowledgements = Counter(
            "churnwatch_acknowledgements_total",
            "Acknowledgements recorded through POST /customers/{id}/acknowledge (durable when counted).",
            registry=r,
        )
