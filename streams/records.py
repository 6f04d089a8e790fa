"""The JSON records churnwatch writes, as types: alerts (contract section 6), dead letters (section 7)
and the dead letters of ``churnwatch notify``. The AsyncAPI document (``deploy/asyncapi.yaml``,
``python -m agents.asyncapi``) is generated from these and from the event models of
:mod:`streams.events`; tests validate what the code emits against it."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Tier = Literal["healthy", "watch", "at_risk", "critical"]


class RuleHit(TypedDict):
    """A rule that fired: its weight (for a graded rule, the weight it had), the signal, its value, the
    threshold and a sentence."""

    rule: str
    weight: float
    signal: str
    value: Any
    threshold: Any
    reason: str


class AlertChanges(TypedDict):
    """What changed since the customer's previous published alert (``rules.history``): its score and
    time (null for a first alert), its tier (the alert's ``previous_tier``), the rules firing now and
    not then, and the reverse."""

    previous_score: float | None
    previous_tier: Tier
    previous_event_time: str | None
    rules_added: list[str]
    rules_removed: list[str]


class Alert(TypedDict):
    """A change of a customer's alerted tier (contract section 6); keyed by customer_id."""

    schema_version: Literal[1]
    alert_id: str
    customer_id: str
    status: Literal["firing", "resolved"]
    tier: Tier
    previous_tier: Tier
    risk_score: float
    event_time: str
    emitted_at: str
    rules: list[RuleHit]
    signals: dict[str, Any]
    revenue_at_risk: float
    changes: NotRequired[AlertChanges]  # since the history (issue 11); alerts written before lack it


class DeadLetter(TypedDict):
    """Bad input (contract section 7): the original bytes, where they came from, and why."""

    schema_version: Literal[1]
    reason: Literal[
        "invalid_json", "schema", "key_mismatch", "too_large", "too_late", "future_timestamp", "processing_error"
    ]
    detail: str
    hint: str
    topic: str
    partition: int
    offset: int
    key: str | None
    key_base64: str | None
    value_base64: str
    value_length: int
    value_sha256: str
    value_truncated: bool
    received_at: str


class NotifyDeadLetter(TypedDict):
    """A delivery ``churnwatch notify`` gave up (or an alerts-topic message it could not read)."""

    schema_version: Literal[1]
    reason: Literal["rejected", "retries_exhausted", "invalid_alert"]
    detail: str
    route: str | None
    format: Literal["json", "chat"] | None
    attempts: int
    topic: str
    partition: int
    offset: int
    failed_at: str
    alert_id: NotRequired[str]
    customer_id: NotRequired[str]
    alert: NotRequired[Alert]
    alert_ids: NotRequired[list[str]]
    alerts: NotRequired[list[Alert]]
    digest: NotRequired[bool]
    value: NotRequired[str]
