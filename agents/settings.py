"""Every setting, read from the environment (and an optional ``.env`` file) in one place.

``Settings()`` validates at start-up; :func:`load_settings` turns a validation error into a
:class:`SettingsError` whose message names each bad variable and what it expects. Secrets are
``SecretStr`` so they never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules" / "packs" / "default.yaml"


class Clock(StrEnum):
    WALL = "wall"
    EVENT = "event"


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class SettingsError(ValueError):
    """A bad setting; the message names the variable and what it expects."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHURNWATCH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    # Kafka
    kafka_bootstrap: str = Field("localhost:9092", description="Kafka bootstrap servers, comma-separated")
    topic_prefix: str = Field("", description="prefix for every topic name")
    topic_logins: str = Field("logins", description="logins topic (before the prefix)")
    topic_orders: str = Field("orders", description="orders topic (before the prefix)")
    topic_payments: str = Field("payments", description="payments topic (before the prefix)")
    topic_support_tickets: str = Field("support-tickets", description="support tickets topic (before the prefix)")
    topic_alerts: str = Field("alerts", description="alerts topic (before the prefix)")
    topic_dead_letters: str = Field("dead-letters", description="dead-letter topic (before the prefix)")
    partitions: int = Field(8, ge=1, le=10_000, description="partitions for topics churnwatch creates")
    replication_factor: int = Field(1, ge=1, le=10, description="replication factor for topics churnwatch creates")
    session_timeout_seconds: float = Field(
        30.0, ge=6, le=300, description="Kafka consumer session timeout: how soon a dead worker's partitions move"
    )
    create_topics: bool = Field(True, description="create missing topics at worker start-up")
    app_id: str = Field("churnwatch", min_length=1, description="Faust app id (consumer group, changelog topic prefix)")

    # Kafka security
    kafka_security_protocol: SecurityProtocol = Field(
        SecurityProtocol.PLAINTEXT, description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        SaslMechanism.PLAIN, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never printed)")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers")
    kafka_ssl_certfile: Path | None = Field(None, description="client certificate (mutual TLS)")
    kafka_ssl_keyfile: Path | None = Field(None, description="client key (mutual TLS)")

    # Engine
    rules: Path = Field(DEFAULT_RULES, description="rule pack file (YAML)")
    model: Path | None = Field(None, description="buying model file (churnwatch fit); unset: model signals are null")
    clock: Clock = Field(Clock.WALL, description="wall or event (contract section 3)")
    tick_seconds: float | None = Field(None, gt=0, description="tick interval; default 60 (wall) or 86400 (event)")
    align_idle_seconds: float = Field(
        2.0, ge=0, description="event clock: a caught-up input topic quiet this long stops holding the others back"
    )
    allowed_lateness_seconds: float = Field(3 * 86400, ge=0, description="how late an event may arrive")
    cooldown_seconds: float = Field(7 * 86400, ge=0, description="firing-alert cooldown (event time)")
    max_future_skew_seconds: float = Field(
        300,
        ge=0,
        validation_alias=AliasChoices("CHURNWATCH_MAX_FUTURE_SKEW", "CHURNWATCH_MAX_FUTURE_SKEW_SECONDS"),
        description="how far ahead of the worker clock an event may be (seconds)",
    )
    max_event_bytes: int = Field(64 * 1024, ge=256, description="largest accepted message value")
    default_currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="currency when an event gives none")
    expected_lifespan_years: float = Field(3.0, gt=0, description="for customer_value")
    lost_after_days: float = Field(30.0, gt=0, description="days in critical before a customer counts as lost")
    history_limit: int = Field(
        16, ge=1, le=256, description="score and tier history entries kept per customer (GET /customers/{id}/history)"
    )

    # Serving
    redis_url: SecretStr | None = Field(
        None, description="e.g. redis://localhost:6379/0 or rediss://user:password@host:6380/0; unset: no Redis view"
    )
    redis_ssl_cafile: Path | None = Field(None, description="CA bundle to verify Redis over TLS (rediss://)")
    redis_flush_seconds: float = Field(1.0, gt=0, description="how often the Redis view is written (batched)")
    web_port: int = Field(6066, ge=1, le=65535, description="HTTP port of the worker")
    web_bind: str = Field("0.0.0.0", description="HTTP bind address")
    web_host: str = Field("", description="host name other workers use to reach this one (default: the hostname)")
    api_token: SecretStr | None = Field(None, description="bearer token required by the HTTP API (not /healthz)")
    api_token_file: Path | None = Field(
        None, description="file holding the bearer token (a mounted secret); instead of CHURNWATCH_API_TOKEN"
    )
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    faust_metrics: bool = Field(
        False, description="also export Faust's own sensor as churnwatch_faust_* (costs about 10% of throughput)"
    )
    data_dir: Path = Field(Path("churnwatch-data"), description="worker data directory (RocksDB state)")
    dead_letter_warn_share: float = Field(
        0.2, gt=0, le=1, description="log a warning when this share of the input of an interval is dead-lettered"
    )
    dead_letter_warn_seconds: float = Field(
        60.0, ge=1, description="the interval of that warning (at most one per interval)"
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.store.startswith(("memory://", "rocksdb://")):
            raise ValueError("CHURNWATCH_STORE must be memory:// or rocksdb://")
        if self.api_token_file is not None:
            if self.api_token is not None:
                raise ValueError("set CHURNWATCH_API_TOKEN or CHURNWATCH_API_TOKEN_FILE, not both")
            try:
                token = self.api_token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"CHURNWATCH_API_TOKEN_FILE: cannot read {self.api_token_file}: {exc.__class__.__name__}"
                ) from None
            if not token:
                raise ValueError(f"CHURNWATCH_API_TOKEN_FILE: {self.api_token_file} is empty")
            self.api_token = SecretStr(token)
        if self.api_token is not None and not self.api_token.get_secret_value().strip():
            self.api_token = None  # an empty variable means no token (and the start-up warning says so)
        for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile", "redis_ssl_cafile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"CHURNWATCH_{name.upper()}: no such file: {path}")
        sasl = self.kafka_security_protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                "CHURNWATCH_KAFKA_SASL_USERNAME and CHURNWATCH_KAFKA_SASL_PASSWORD are required "
                f"with CHURNWATCH_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol.value}"
            )
        if self.model is not None:
            from agents.model_file import ModelError, cached_model

            try:
                cached_model(self.model)
            except ModelError as exc:
                raise ValueError(f"CHURNWATCH_MODEL: {exc}") from None
        return self

    @property
    def effective_tick_seconds(self) -> float:
        if self.tick_seconds is not None:
            return self.tick_seconds
        return 86400.0 if self.clock is Clock.EVENT else 60.0

    def topic(self, name: str) -> str:
        """Full topic name for one of: logins, orders, payments, support_tickets, alerts, dead_letters."""
        return self.topic_prefix + str(getattr(self, f"topic_{name}"))

    @property
    def input_topics(self) -> dict[str, str]:
        """Event type (``login``...) to full topic name."""
        return {
            "login": self.topic("logins"),
            "order": self.topic("orders"),
            "payment": self.topic("payments"),
            "support_ticket": self.topic("support_tickets"),
        }


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, or raise :class:`SettingsError` with a readable message."""
    return load_settings_as(Settings, **overrides)


S = TypeVar("S", bound=Settings)


def load_settings_as(cls: type[S], **overrides: object) -> S:
    """:func:`load_settings` for a class that adds settings (``churnwatch notify``'s)."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            if not field:  # a check across settings: its message names the variables
                lines.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            var = field.upper() if field.upper().startswith("CHURNWATCH_") else f"CHURNWATCH_{field.upper()}"
            lines.append(f"{var}: {err['msg']}")
        raise SettingsError("bad setting(s):\n  " + "\n  ".join(lines)) from None
