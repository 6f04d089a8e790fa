"""The settings ``churnwatch notify`` adds to the worker's (same variables for Kafka and topics)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agents.settings import Settings


class NotifySettings(Settings):
    notify_routes: Path = Field(
        Path("notify.yaml"), description="notify: the routing file (YAML; README: Notifications)"
    )
    notify_group: str = Field("", description="notify: Kafka consumer group (default: CHURNWATCH_APP_ID + '-notify')")
    notify_max_in_flight: int = Field(32, ge=1, le=10_000, description="notify: deliveries under way at once, at most")
    notify_max_attempts: int = Field(6, ge=1, le=100, description="notify: attempts per delivery before dead-lettering")
    notify_timeout_seconds: float = Field(10.0, gt=0, le=600, description="notify: time allowed per attempt")
    notify_backoff_initial_seconds: float = Field(
        0.5, gt=0, description="notify: first wait between attempts (doubles)"
    )
    notify_backoff_max_seconds: float = Field(
        60.0, gt=0, description="notify: longest wait between attempts (and cap of a receiver's Retry-After)"
    )
    notify_port: int = Field(6067, ge=0, le=65535, description="notify: HTTP port of /metrics and /healthz (0: none)")
    topic_notify_dead_letters: str = Field(
        "notify-dead-letters", description="notify: deliveries given up, with the reason (before the prefix)"
    )

    @property
    def notify_group_id(self) -> str:
        return self.notify_group or f"{self.app_id}-notify"
