"""Client options for kafka-python and aiokafka from the settings (bootstrap servers, SASL, TLS)."""

from __future__ import annotations

import ssl
from typing import Any

from agents.settings import SecurityProtocol, Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.kafka_security_protocol not in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
        return None
    context = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None
        )
    return context


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments shared by kafka-python's producer, consumer and admin client, and by
    aiokafka's clients (the same option names)."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()],
        "security_protocol": settings.kafka_security_protocol.value,
    }
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    if settings.kafka_security_protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        config["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        config["sasl_plain_password"] = password.get_secret_value() if password else None
    return config
