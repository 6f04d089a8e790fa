"""HTTP views of a customer's history and acknowledgement (issue 11), next to ``agents.web``.

- ``GET /customers/{id}/history``: the customer's bounded history (``rules.history``) and its
  current acknowledgement, routed to the worker that owns the customer's partition, like
  ``/customers/{id}``.
- ``POST /customers/{id}/acknowledge`` with ``{"by", "until", "note"}``: recorded on the owning
  worker's engine (``Engine.acknowledge``) at the partition's time (the wall clock, or the
  partition's event clock with ``CHURNWATCH_CLOCK=event``), then the partition's state is written
  to the changelog and the producer flushed, so the answer (200) comes only once Kafka holds the
  acknowledgement. A request reaching another worker is forwarded with its body (Faust's own
  routing forwards no body).

Both need the API token when one is set. Errors are ``{"error", "detail"}`` JSON: 400 for a bad
body, 404 for a customer without state, 413 for a body over ``MAX_BODY`` bytes, 503 while the
partition is being rebalanced. Neither customer ids nor notes are logged above debug level.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from faust.web import View

from rules.acknowledgement import BadAcknowledgement, parse_request

if TYPE_CHECKING:
    from agents.app import Worker
    from rules.engine import Engine

log = logging.getLogger(__name__)
MAX_BODY = 8192
FORWARDED = "X-Churnwatch-Forwarded"  # a forwarded request is never forwarded again

Denied = Callable[[Any, Any], Any]


def _error(view: Any, status: int, error: str, detail: str) -> Any:
    return view.json({"error": error, "detail": detail}, status=status)


def _engine_of(worker: Worker, customer_id: str) -> Engine | None:
    for engine in list(worker.pipeline.engines.values()):
        if engine.history(customer_id) is not None:
            return engine
    return None


def _owner_elsewhere(worker: Worker, customer_id: str) -> Any | None:
    """The URL of the worker owning the customer when it is not this one; None when it is this one."""
    app = worker.app
    dest = app.router.key_store(worker.table.name, customer_id)  # KeyError: no owner known (rebalancing)
    here = app.conf.canonical_url
    if (dest.host, dest.port) == (here.host, here.port):
        return None
    return dest


async def _read_body(request: Any) -> bytes:
    """The body, read up to one byte past ``MAX_BODY`` (a chunked body has no declared length)."""
    body = b""
    while len(body) <= MAX_BODY:
        chunk = await request.content.read(MAX_BODY + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return body


async def _forward(view: Any, worker: Worker, request: Any, dest: Any, body: bytes) -> Any:
    url = request.url.with_host(dest.host).with_port(int(dest.port or 80))
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
    headers[FORWARDED] = "1"
    try:
        async with worker.app.http_client.request(method="POST", url=url, headers=headers, data=body) as response:
            return view.text(await response.text(), content_type=response.content_type, status=response.status)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("acknowledgement not forwarded to the owning worker %s: %s", dest, type(exc).__name__)
        return _error(view, 503, "unavailable", "the worker owning the customer's partition did not answer; try again")


def register_customer_views(worker: Worker, denied: Denied) -> None:
    app, settings = worker.app, worker.settings

    def now_of(engine: Engine) -> float:
        return time.time() if settings.clock.value == "wall" else (engine.clock or 0.0)

    @app.page("/customers/{customer_id}/history")
    @app.table_route(table=worker.table, match_info="customer_id")
    async def customer_history(web: Any, request: Any, customer_id: str) -> Any:
        if (resp := denied(web, request)) is not None:
            return resp
        engine = _engine_of(worker, customer_id)
        if engine is None:
            return _error(web, 404, "not_found", f"no state for customer {customer_id!r} on its worker")
        return web.json(engine.history(customer_id, now_of(engine)))

    @app.page("/customers/{customer_id}/acknowledge")
    class Acknowledge(View):
        async def post(self, request: Any, customer_id: str) -> Any:
            if (resp := denied(self, request)) is not None:
                return resp
            if request.content_length is not None and request.content_length > MAX_BODY:
                return _error(self, 413, "too_large", f"the body is limited to {MAX_BODY} bytes")
            body = await _read_body(request)
            if len(body) > MAX_BODY:
                return _error(self, 413, "too_large", f"the body is limited to {MAX_BODY} bytes")
            if app.rebalancing:
                return _error(self, 503, "unavailable", "partitions are being rebalanced; try again")
            if FORWARDED not in request.headers:
                try:
                    dest = _owner_elsewhere(worker, customer_id)
                except KeyError:
                    return _error(self, 503, "unavailable", "no worker owns the customer's partition yet")
                if dest is not None:
                    return await _forward(self, worker, request, dest, body)
            return await acknowledge(self, customer_id, body)

    async def acknowledge(view: Any, customer_id: str, body: bytes) -> Any:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _error(view, 400, "invalid_json", f"the body is not JSON: {exc}")
        engine = _engine_of(worker, customer_id)
        if engine is None:
            return _error(view, 404, "not_found", f"no state for customer {customer_id!r} on its worker")
        try:
            ack = parse_request(customer_id, parsed, now_of(engine))
        except BadAcknowledgement as exc:
            return _error(view, 400, "bad_request", f"{exc.field}: {exc.detail}")
        engine.acknowledge(ack)
        await worker.flush_state()  # the customer's state to the changelog ...
        await app.producer.flush()  # ... and Kafka has it before we answer
        worker.metrics.acknowledgements.inc()
        log.debug("acknowledgement of %s by %s recorded", customer_id, ack.by)
        shown = engine.history(customer_id, ack.ts) or {}
        return view.json({"customer_id": customer_id, "acknowledgement": shown.get("acknowledgement")})

    _ = Acknowledge
