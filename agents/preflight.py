"""Start-up checks that turn a misconfigured connection into one line naming the setting to check.

A wrong password, a CA that does not sign the server's certificate, or a plaintext client against
a TLS port would otherwise show as a retry loop and, half a minute later, "Unable to bootstrap"
(Kafka) or as write failures that never end (Redis). Each check connects once, recognises these
causes, and returns one line (no secret in it); ``None`` means "fine", or "unreachable", which is
an outage the worker rides out, not a setting to fix.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import redis

from agents.redis_view import redis_client, safe_url
from agents.settings import SecurityProtocol, Settings

BOOTSTRAP_TIMEOUT_MS = 6_000  # a misconfiguration shows on the first attempt; no verdict: the usual path


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(Exception):  # a record that cannot format is no diagnosis
            self.messages.append(record.getMessage())


@contextmanager
def _kafka_logs() -> Iterator[_Capture]:
    """kafka-python's warnings, kept (for the diagnosis) instead of printed; its DEBUG output, which
    includes the client configuration and so the SASL password, is off meanwhile."""
    logger = logging.getLogger("kafka")
    capture = _Capture()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(capture)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        logger.propagate = propagate


def _first_server(settings: Settings) -> tuple[str, int]:
    first = next(s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip())
    host, _, port = first.rpartition(":")
    return (host.strip("[]") or first, int(port) if port.isdigit() else 9092)


def speaks_tls(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether host:port completes a TLS handshake (certificate not checked: this only asks the question)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def speaks_plain_redis(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether host:port answers a plaintext PING the way Redis does (+PONG, or an -ERR/-NOAUTH)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64)[:1] in (b"+", b"-")
    except OSError:
        return False


def kafka_problem(settings: Settings) -> str | None:
    """Connect to the brokers as the worker will; one line when a setting is wrong, else None."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    from agents.kafka_config import kafka_python_config

    where = f"Kafka at {settings.kafka_bootstrap}"
    protocol = settings.kafka_security_protocol
    with _kafka_logs() as logs:
        try:
            admin = KafkaAdminClient(
                client_id="churnwatch-preflight",
                request_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
                reconnect_backoff_ms=200,  # several attempts in the window: one of them names the cause
                reconnect_backoff_max_ms=500,
                **kafka_python_config(settings),
            )
            try:
                admin.list_topics()
            finally:
                admin.close()
            return None
        except KafkaError:
            seen = " ".join(logs.messages)
        except ssl.SSLError as exc:  # e.g. a CA file that holds no certificate, a key that does not match
            files = "CHURNWATCH_KAFKA_SSL_CAFILE"
            if settings.kafka_ssl_certfile:
                files += ", CHURNWATCH_KAFKA_SSL_CERTFILE and CHURNWATCH_KAFKA_SSL_KEYFILE"
            return f"{where}: the TLS files do not load ({exc.reason or exc}): check {files}"
    if "SaslAuthenticationFailed" in seen or "Authentication failed" in seen:
        return (
            f"{where} refused the SASL login of user {settings.kafka_sasl_username!r} "
            f"({settings.kafka_sasl_mechanism.value}): check CHURNWATCH_KAFKA_SASL_USERNAME and "
            "CHURNWATCH_KAFKA_SASL_PASSWORD"
        )
    if "UnsupportedSaslMechanism" in seen or "IllegalSaslState" in seen:
        return (
            f"{where} does not accept SASL mechanism {settings.kafka_sasl_mechanism.value}: "
            "check CHURNWATCH_KAFKA_SASL_MECHANISM"
        )
    if "ALERT_BAD_CERTIFICATE" in seen or "CERTIFICATE_REQUIRED" in seen or "ALERT_UNKNOWN_CA" in seen:
        given = "a" if settings.kafka_ssl_certfile else "no"
        return (
            f"{where} refused the client certificate ({given} certificate given; the broker wants one its CA "
            "signed): check CHURNWATCH_KAFKA_SSL_CERTFILE and CHURNWATCH_KAFKA_SSL_KEYFILE"
        )
    if "CERTIFICATE_VERIFY_FAILED" in seen:
        reason = "certificate verify failed"
        for part in seen.split("certificate verify failed: ")[1:2]:
            reason = part.split(" (_ssl")[0]
        return f"{where}: its TLS certificate is not trusted ({reason}): check CHURNWATCH_KAFKA_SSL_CAFILE"
    if protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL) and (
        "WRONG_VERSION_NUMBER" in seen or "Handshake failed" in seen
    ):
        return (
            f"{where} does not speak TLS: check CHURNWATCH_KAFKA_SECURITY_PROTOCOL "
            f"(now {protocol.value}) and the port in CHURNWATCH_KAFKA_BOOTSTRAP"
        )
    if protocol in (SecurityProtocol.PLAINTEXT, SecurityProtocol.SASL_PLAINTEXT) and speaks_tls(
        *_first_server(settings)
    ):
        return (
            f"{where} speaks TLS but CHURNWATCH_KAFKA_SECURITY_PROTOCOL={protocol.value}: "
            "check CHURNWATCH_KAFKA_SECURITY_PROTOCOL (SSL or SASL_SSL)"
        )
    if protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL) and "disconnected" in seen:
        return (
            f"{where} closed the connection during the SASL login: check CHURNWATCH_KAFKA_SASL_MECHANISM, "
            "CHURNWATCH_KAFKA_SASL_USERNAME and CHURNWATCH_KAFKA_SASL_PASSWORD"
        )
    return None  # unreachable or slow: the usual path reports it (and an outage is not a setting)


def redis_problem(settings: Settings) -> str | None:
    """PING Redis as the worker will; one line when a setting is wrong, else None (also when Redis
    is merely unreachable: the worker keeps going and catches up when Redis is back)."""
    if settings.redis_url is None:
        return None
    url = settings.redis_url.get_secret_value()
    where = f"Redis at {safe_url(url)}"
    try:
        client = redis_client(settings)
    except (ValueError, redis.RedisError) as exc:
        return f"{where}: {type(exc).__name__}: check CHURNWATCH_REDIS_URL"
    try:
        client.ping()
    except redis.AuthenticationError:
        return f"{where} refused the user name or password: check the credentials in CHURNWATCH_REDIS_URL"
    except redis.ResponseError as exc:
        first = str(exc).split("\n")[0]
        if first.startswith("NOPERM"):
            return f"{where}: the user may not run PING: check the user in CHURNWATCH_REDIS_URL and its ACL"
        return f"{where} answered {first!r}: check CHURNWATCH_REDIS_URL"
    except redis.ConnectionError as exc:
        text = str(exc)
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            reason = getattr(cause, "verify_message", None) or "certificate verify failed"
            return f"{where}: its TLS certificate is not trusted ({reason}): check CHURNWATCH_REDIS_SSL_CAFILE"
        if isinstance(cause, ssl.SSLError) or "SSL" in text:
            return f"{where}: TLS handshake failed: check CHURNWATCH_REDIS_URL (rediss:// for a TLS port only)"
        if not url.startswith("rediss://") and ("closed by server" in text or "reset by peer" in text):
            parts = urlsplit(url)
            if speaks_tls(parts.hostname or "localhost", parts.port or 6379):
                return f"{where} speaks TLS: check CHURNWATCH_REDIS_URL (rediss:// for TLS)"
        return None
    except redis.TimeoutError:
        parts = urlsplit(url)
        if url.startswith("rediss://") and speaks_plain_redis(parts.hostname or "localhost", parts.port or 6379):
            return f"{where} does not speak TLS: check CHURNWATCH_REDIS_URL (redis:// for a plaintext port)"
        return None
    except (redis.RedisError, OSError):
        return None  # anything else is for the worker's usual handling (an outage is not a setting)
    finally:
        client.close()
    return None
