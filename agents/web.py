"""HTTP views on the worker's web port (contract section 9).

``/customers/{id}`` is routed by Faust to the worker that owns the customer's partition;
``/at-risk`` answers from this worker's partitions; ``/metrics`` and ``/healthz`` are open, the
rest needs ``Authorization: Bearer <CHURNWATCH_API_TOKEN>`` when a token is set.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rules.scoring import TIER_NAMES, TIER_RANK

if TYPE_CHECKING:
    from agents.app import Worker

MAX_LIMIT = 1000


def register_views(worker: Worker) -> None:
    app, pipeline, settings = worker.app, worker.pipeline, worker.settings
    token = settings.api_token.get_secret_value().encode() if settings.api_token else None

    def denied(web: Any, request: Any) -> Any | None:
        if token is None:
            return None
        header = request.headers.get("Authorization", "")
        given = header[7:].encode() if header.startswith("Bearer ") else b""
        if hmac.compare_digest(given, token):
            return None
        return web.json({"error": "unauthorized", "detail": "send Authorization: Bearer <token>"}, status=401)

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
