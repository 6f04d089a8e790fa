"""HTTP views on the worker's web port (contract section 9).

``/customers/{id}`` is routed by Faust to the worker that owns the customer's partition;
``/at-risk`` answers from this worker's partitions; ``/metrics`` and ``/healthz`` are open, the
rest needs ``Authorization: Bearer <token>`` when a token is set (``CHURNWATCH_API_TOKEN`` or the
file ``CHURNWATCH_API_TOKEN_FILE``). The scheme name is case-insensitive (RFC 9110); tokens are
compared in constant time (as SHA-256 digests, so not even their length shows).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.customer_web import register_customer_views
from rules.scoring import TIER_NAMES, TIER_RANK

if TYPE_CHECKING:
    from agents.app import Worker
    from agents.settings import Settings

MAX_LIMIT = 1000


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(settings: Settings) -> str | None:
    """A warning when the HTTP API is reachable from other hosts and no token protects it."""
    if settings.api_token is not None or _loopback(settings.web_bind):
        return None
    return (
        f"the HTTP API binds {settings.web_bind}:{settings.web_port} (CHURNWATCH_WEB_BIND) without a token: "
        "anyone who reaches the port can read customer data; set CHURNWATCH_API_TOKEN_FILE or CHURNWATCH_API_TOKEN"
    )


def bearer_token(header: str) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header; the scheme name in any case."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip().encode()


def token_matches(given: bytes | None, expected_digest: bytes) -> bool:
    """Constant-time comparison of digests (equal length whatever was sent)."""
    if given is None:
        return False
    return hmac.compare_digest(hashlib.sha256(given).digest(), expected_digest)


def register_views(worker: Worker) -> None:
    app, pipeline, settings = worker.app, worker.pipeline, worker.settings
    digest = hashlib.sha256(settings.api_token.get_secret_value().encode()).digest() if settings.api_token else None

    def denied(web: Any, request: Any) -> Any | None:
        if digest is None:
            return None
        if token_matches(bearer_token(request.headers.get("Authorization", "")), digest):
            return None
        return web.json(
            {"error": "unauthorized", "detail": "send Authorization: Bearer <token>"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="churnwatch"'},
        )

    @app.page("/customers/{customer_id}")
    @app.table_route(table=worker.table, match_info="customer_id")
    async def customer(web: Any, request: Any, customer_id: str) -> Any:
        if (resp := denied(web, request)) is not None:
            return resp
        for engine in list(pipeline.engines.values()):
            view = engine.view(customer_id, time.time() if worker.settings.clock.value == "wall" else None)
            if view is not None:
                return web.json(view)
        return web.json(
            {"error": "not_found", "detail": f"no state for customer {customer_id!r} on its worker"}, status=404
        )

    register_customer_views(worker, denied)  # /customers/{id}/history and /acknowledge

    @app.page("/at-risk")
    async def at_risk(web: Any, request: Any) -> Any:
        if (resp := denied(web, request)) is not None:
            return resp
        tier = request.query.get("tier")
        if tier is not None and tier not in TIER_NAMES:
            return web.json(
                {"error": "bad_parameter", "detail": f"tier must be one of {', '.join(TIER_NAMES)}"}, status=400
            )
        raw_limit = request.query.get("limit", "100")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            return web.json(
                {"error": "bad_parameter", "detail": f"limit must be an integer 1..{MAX_LIMIT}"}, status=400
            )
        limit = int(raw_limit)
        rank = TIER_RANK[tier] if tier else None
        rows = []
        for engine in list(pipeline.engines.values()):
            for cid, (r, score, rar) in engine.at_risk().items():
                if rank is None or r == rank:
                    rows.append((rar, score, cid, r))
        rows.sort(key=lambda row: (-row[0], -row[1], row[2]))
        return web.json(
            {
                "scope": "this worker's partitions",
                "customers": [
                    {"customer_id": cid, "tier": TIER_NAMES[r], "risk_score": score, "revenue_at_risk": round(rar, 2)}
                    for rar, score, cid, r in rows[:limit]
                ],
            }
        )

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(worker.metrics.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        inputs = set(settings.input_topics.values())
        assigned = sorted({tp.partition for tp in app.assignor.assigned_actives() if tp.topic in inputs})
        return web.json(
            {
                "status": "ok",
                "rebalancing": bool(app.rebalancing),
                "partitions": assigned,
                "uptime_seconds": round(time.time() - worker.started, 1),
            }
        )
