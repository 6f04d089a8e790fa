"""``churnwatch notify``: deliver alerts to webhooks by a routing file (README: Notifications)."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import sys
from pathlib import Path

import click

from agents.cli_util import fail


def _ensure_topics(settings: object) -> None:
    """The alerts topic and the notify dead-letter topic, created when missing (CHURNWATCH_CREATE_TOPICS)."""
    from agents.notify.settings import NotifySettings
    from agents.topics import _admin, _raise_create_errors

    assert isinstance(settings, NotifySettings)
    names = [settings.topic("alerts"), settings.topic("notify_dead_letters")]
    admin = _admin(settings)
    try:
        missing = [n for n in names if n not in set(admin.list_topics())]
        if missing:
            specs = {
                n: {"num_partitions": settings.partitions, "replication_factor": settings.replication_factor}
                for n in missing
            }
            _raise_create_errors(admin.create_topics(specs, raise_errors=False).get("topics", []))
            admin.wait_for_topics(missing, timeout_ms=30000)
    finally:
        admin.close()


@click.command("notify")
@click.option(
    "--routes",
    "routes_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="routing file (default: CHURNWATCH_NOTIFY_ROUTES, else notify.yaml)",
)
@click.option("--check", is_flag=True, help="check the routing file and show its routes (no secrets), then exit")
@click.option(
    "-l", "--loglevel", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def notify_command(routes_file: Path | None, check: bool, loglevel: str) -> None:
    """Deliver alerts from the alerts topic to webhooks (JSON or chat), by a routing file.

    Exit code: 0 stopped by a signal, 2 a bad setting, routing file or start-up problem.
    """
    from agents.notify.routes import RoutesError, load_routes
    from agents.notify.settings import NotifySettings
    from agents.settings import SettingsError, load_settings_as

    try:
        settings = load_settings_as(NotifySettings)
    except SettingsError as exc:
        fail(str(exc))
    try:
        routes = load_routes(routes_file or settings.notify_routes)
    except RoutesError as exc:
        fail(str(exc))
    for route in routes.routes:
        digest = f", digest every {route.digest_seconds:g} s" if route.digest_seconds else ""
        match = "; ".join(f"{k} in {sorted(v)}" for k, v in route.match.items()) or "every alert"
        click.echo(f"route {route.name}: {route.format} to {route.where}{digest}; {match}", err=True)
    if check:
        click.echo(f"{routes.file}: OK, {len(routes.routes)} route(s)", err=True)
        return
    from kafka.errors import KafkaError

    from agents.cli_main import port_problem
    from agents.preflight import kafka_problem

    if settings.notify_port:
        problem = port_problem(settings.web_bind, settings.notify_port)
        if problem:
            fail(f"{problem}: set CHURNWATCH_NOTIFY_PORT (0: no HTTP port)")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # kafka-python (set-up only): its errors become one line
    problem = kafka_problem(settings)
    if problem:
        fail(problem)
    if settings.create_topics:
        try:
            _ensure_topics(settings)
        except KafkaError as exc:
            fail(f"cannot create the notify topics at CHURNWATCH_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}: {exc}")
    level = getattr(logging, loglevel.upper())
    logging.basicConfig(level=level, format="[%(asctime)s] [%(process)d] %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(max(logging.INFO, level))
    try:
        asyncio.run(_serve(settings, routes))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {settings.notify_port} on {settings.web_bind} is already in use: "
                "set CHURNWATCH_NOTIFY_PORT (0: no HTTP port)"
            )
        raise
    sys.exit(0)


async def _serve(settings: object, routes: object) -> None:
    from aiohttp import web

    from agents.notify.routes import Routes
    from agents.notify.service import Notifier
    from agents.notify.settings import NotifySettings

    assert isinstance(settings, NotifySettings) and isinstance(routes, Routes)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    notifier = Notifier(settings, routes)
    runner: web.AppRunner | None = None
    if settings.notify_port:
        runner = web.AppRunner(notifier.web_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.web_bind, settings.notify_port).start()
    log = logging.getLogger("churnwatch.notify")
    log.info(
        "notify: %d route(s), group %s, alerts from %s, dead letters to %s, /metrics on port %s",
        len(routes.routes),
        settings.notify_group_id,
        settings.topic("alerts"),
        settings.topic("notify_dead_letters"),
        settings.notify_port or "none",
    )
    try:
        await notifier.run(stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        log.info("notify: stopped")
