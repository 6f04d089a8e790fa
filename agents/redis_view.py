"""The Redis view for support tools (contract section 9), written in batches.

Evaluations mark customers dirty; :meth:`RedisView.flush` writes every dirty customer in one
pipeline: the hash ``churnwatch:customer:{id}`` (tier, score, rules, updated_at,
revenue_at_risk) and the sorted set ``churnwatch:at_risk`` (score: revenue at risk; healthy
customers are removed). When Redis is down the worker keeps going, counts the failure, keeps the
dirty set (one entry per customer, so bounded) and catches up on the next successful flush.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import orjson
import redis

from agents.topics import partition_of
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
    """The URL for messages: no password (only the user name before the last ``@``), no query."""
    scheme, sep, rest = url.partition("://")
    rest = rest.split("?", 1)[0]
    if "@" in rest:
        userinfo, _, hostpart = rest.rpartition("@")
        user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
        rest = (f"{user}@" if user and "/" not in user else "") + hostpart
    return f"{scheme}{sep}{rest}"


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

    def remove_unknown(self, partitions: set[int], partition_count: int, known: set[str]) -> int:
        """Remove the at-risk members (and their hashes) that belong to ``partitions`` (by Kafka's
        default partitioner, as producers key the input topics) but are not ``known`` customers."""
        removed = 0
        try:
            stale = [
                member
                for member in (
                    m.decode() if isinstance(m, bytes) else str(m) for m, _ in self.client.zscan_iter(AT_RISK)
                )
                if member not in known and partition_of(member, partition_count) in partitions
            ]
            for start in range(0, len(stale), self.batch):
                chunk = stale[start : start + self.batch]
                pipe = self.client.pipeline(transaction=False)
                pipe.zrem(AT_RISK, *chunk)
                pipe.delete(*(CUSTOMER.format(cid) for cid in chunk))
                pipe.execute()
                removed += len(chunk)
        except (redis.RedisError, OSError) as exc:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("Redis view: reconciliation failed (%s); the next resync tries again", self.last_error)
        return removed

    def close(self) -> None:
        self.client.close()
