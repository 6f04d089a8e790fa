"""The Redis view for support tools (contract section 9), written in batches.

Evaluations mark customers dirty; :meth:`RedisView.flush` writes every dirty customer in one
pipeline: the hash ``churnwatch:customer:{id}`` (tier, score, rules, updated_at,
revenue_at_risk) and the sorted set ``churnwatch:at_risk`` (score: revenue at risk; healthy
customers are removed). When Redis is down the worker keeps going, counts the failure, keeps the
dirty set (one entry per customer, so bounded) and catches up on the next successful flush.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import orjson
import redis

from rules.pack import Evaluation
from streams.timefmt import format_ts

if TYPE_CHECKING:
    from agents.settings import Settings

log = logging.getLogger(__name__)

AT_RISK = "churnwatch:at_risk"
CUSTOMER = "churnwatch:customer:{}"


@dataclass(slots=True)
class Entry:
    tier: str
    score: float
    rules: list[str]
    revenue_at_risk: float
    updated_at: float


def connect(url: str, ssl_ca_certs: Path | str | None = None) -> redis.Redis:
    """A client for ``url``; with ``rediss://``, TLS verified against ``ssl_ca_certs`` (else the system CAs)."""
    extra: dict[str, Any] = {}
    if url.startswith("rediss://") and ssl_ca_certs is not None:
        extra["ssl_ca_certs"] = str(ssl_ca_certs)
    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, **extra)


def redis_client(settings: Settings) -> redis.Redis:
    assert settings.redis_url is not None
    return connect(settings.redis_url.get_secret_value(), settings.redis_ssl_cafile)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    netloc = f"{parts.username + '@' if parts.username else ''}{host}{':' + str(parts.port) if parts.port else ''}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def start_up_problem(settings: Settings) -> str | None:
    """One line naming the setting to check when Redis refuses us for a reason that waiting will not
    fix (credentials, ACL, TLS); None when it answers, or is merely unreachable (the worker then
    keeps going and catches up when Redis is back, as in any outage)."""
    assert settings.redis_url is not None
    url = settings.redis_url.get_secret_value()
    where = f"Redis at {safe_url(url)}"
    client = redis_client(settings)
    try:
        client.ping()
    except redis.AuthenticationError:
        return f"{where} refused the user name or password: check the credentials in CHURNWATCH_REDIS_URL"
    except redis.ResponseError as exc:
        text = str(exc)
        if text.startswith("NOPERM"):
            return f"{where}: the ACL user may not run PING: check the user in CHURNWATCH_REDIS_URL and its ACL"
        return f"{where} answered {text.split(chr(10))[0]!r}: check CHURNWATCH_REDIS_URL"
    except redis.ConnectionError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        text = str(exc)
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            reason = getattr(cause, "verify_message", None) or "certificate verify failed"
            return f"{where}: its TLS certificate is not trusted ({reason}): check CHURNWATCH_REDIS_SSL_CAFILE"
        if isinstance(cause, ssl.SSLError) or "SSL" in text:
            first = text.split(chr(10))[0]
            return (
                f"{where}: TLS handshake failed ({first}): check CHURNWATCH_REDIS_URL (rediss:// for a TLS port only)"
            )
        if "closed by server" in text or "reset by peer" in text:
            return (
                f"{where} closed the connection without answering: a TLS port? "
                "check CHURNWATCH_REDIS_URL (rediss:// for TLS)"
            )
        return None  # refused or timed out: an outage, not a misconfiguration
    finally:
        client.close()
    return None


class RedisView:
    def __init__(self, url: str, *, batch: int = 2000, ssl_ca_certs: Path | str | None = None) -> None:
        self.client = connect(url, ssl_ca_certs)
        self.batch = batch
        self.dirty: dict[str, Entry] = {}
        self.failures = 0
        self.last_error: str | None = None
        self.run_id: str | None = None  # the Redis server's run_id: a new one means it restarted (maybe empty)

    def observe(self, customer_id: str, evaluation: Evaluation, revenue_at_risk: float, t: float) -> None:
        """Engine observer: remember the customer's latest result (no I/O here)."""
        self.dirty[customer_id] = Entry(
            evaluation.tier, evaluation.score, [h.rule for h in evaluation.hits], round(revenue_at_risk, 2), t
        )

    def restarted(self) -> bool:
        """True when Redis answers with a new run_id (it restarted): the whole view must be rewritten."""
        try:
            run_id = str(self.client.info("server").get("run_id"))
        except (redis.RedisError, OSError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        previous, self.run_id = self.run_id, run_id
        return previous is not None and previous != run_id

    def flush(self) -> int:
        """Write the dirty customers; returns how many were written (0 on failure)."""
        if not self.dirty:
            return 0
        items = list(self.dirty.items())
        written = 0
        try:
            for start in range(0, len(items), self.batch):
                chunk = items[start : start + self.batch]
                pipe = self.client.pipeline(transaction=False)
                for cid, e in chunk:
                    mapping: dict[str | bytes, str | float] = {
                        "tier": e.tier,
                        "score": e.score,
                        "rules": orjson.dumps(e.rules).decode(),
                        "revenue_at_risk": e.revenue_at_risk,
                        "updated_at": format_ts(e.updated_at),
                    }
                    pipe.hset(CUSTOMER.format(cid), mapping=cast(Any, mapping))
                    if e.tier == "healthy":
                        pipe.zrem(AT_RISK, cid)
                    else:
                        pipe.zadd(AT_RISK, {cid: e.revenue_at_risk})
                pipe.execute()
                for cid, e in chunk:
                    if self.dirty.get(cid) is e:  # not re-dirtied meanwhile
                        del self.dirty[cid]
                written += len(chunk)
        except (redis.RedisError, OSError) as exc:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "Redis view: write failed (%s); %d customers pending, will retry", self.last_error, len(self.dirty)
            )
            return written
        return written

    def close(self) -> None:
        self.client.close()
