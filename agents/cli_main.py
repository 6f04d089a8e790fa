"""The ``churnwatch`` console script: our own command group, in front of Faust.

``worker`` hands its arguments to Faust's ``worker`` command (Faust's options apply there:
``churnwatch worker --help``); Faust's other commands stay reachable as ``churnwatch faust ...``.
Everything else is a plain click command that starts without importing Faust.

Exit codes (README: The command line): 0 success; 1 the input had problems (bad lines skipped
by replay/fit/backtest, a rule pack with problems); 2 a usage error, a bad setting or file, or a
start-up problem (one line on stderr, no traceback); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import errno
import socket
import sys
from importlib.metadata import PackageNotFoundError, version

import click

SHORT_HELP_WORKER = "the streaming worker (Faust's worker options: churnwatch worker --help)"
ORDER = ("worker", "notify", "alerts", "replay", "simulate", "rules", "fit", "backtest")
ENVIRONMENT = """\b
Environment (all settings: README, Configuration; a .env file is read too):
  CHURNWATCH_KAFKA_BOOTSTRAP   Kafka bootstrap servers (localhost:9092)
  CHURNWATCH_TOPIC_PREFIX      prefix of every topic name (empty)
  CHURNWATCH_APP_ID            consumer group and changelog prefix (churnwatch)
  CHURNWATCH_CLOCK             wall or event (wall)
  CHURNWATCH_TICK_SECONDS      tick interval (60 wall, 86400 event)
  CHURNWATCH_RULES             rule pack file (the shipped default pack)
  CHURNWATCH_MODEL             buying model file (none)
  CHURNWATCH_REDIS_URL         Redis view, e.g. redis://localhost:6379/0 (none)
  CHURNWATCH_WEB_PORT          worker HTTP port (6066)
  CHURNWATCH_API_TOKEN_FILE    bearer token of the HTTP API (none)
  CHURNWATCH_NOTIFY_ROUTES     notify: the routing file (notify.yaml)
  CHURNWATCH_CORE              auto, compiled or pure: the engine's build (auto: compiled once built)

\b
Exit codes: 0 ok, 1 input with problems, 2 usage, setting or start-up error, 130 interrupted."""


def churnwatch_version() -> str:
    try:
        return version("churnwatch")
    except PackageNotFoundError:  # running from a source tree without installing
        return "unknown"


# Faust's own commands, reachable as before (`churnwatch tables`) and as `churnwatch faust tables`; not listed
FAUST_COMMANDS = ("agents", "clean-versions", "completion", "livecheck", "model", "models", "reset", "send", "tables")


class _Ordered(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in FAUST_COMMANDS:
            return _faust_passthrough(cmd_name)
        return command


def _faust_passthrough(name: str) -> click.Command:
    @click.command(
        name,
        hidden=True,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    )
    @click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
    def passthrough(faust_args: tuple[str, ...]) -> None:
        run_faust([name, *faust_args])

    return passthrough


@click.group(
    cls=_Ordered,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100},
    epilog=ENVIRONMENT,
)
@click.version_option(churnwatch_version(), "-V", "--version", prog_name="churnwatch", message="%(prog)s %(version)s")
def cli() -> None:
    """churnwatch: a streaming early warning of customer churn.

    Faust agents read logins, orders, payments and support tickets from Kafka, keep each
    customer's signals, score them with an explainable rule pack and publish alerts to the alerts
    topic, Redis and Prometheus. The same engine runs offline in `replay`.
    """


@cli.command(
    "worker",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    short_help=SHORT_HELP_WORKER,
)
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def worker_command(faust_args: tuple[str, ...]) -> None:
    """Run the streaming worker; every option is Faust's worker option (see churnwatch worker --help)."""
    args = list(faust_args)
    if args[-1:] == ["-h"]:  # Faust's -h is --web-host and needs a value: alone, it asks for help
        args[-1] = "--help"
    run_faust(["worker", *args])


@cli.command(
    "faust",
    hidden=True,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def faust_command(faust_args: tuple[str, ...]) -> None:
    """Faust's own command line for the churnwatch app (agents, tables, send, ...)."""
    run_faust(list(faust_args))


def run_faust(argv: list[str]) -> None:
    """Faust's command line on churnwatch's app: ``argv`` as after ``faust -A app``."""
    from agents.cli_util import fail
    from agents.settings import SettingsError, load_settings

    help_only = "--help" in argv or not argv
    try:
        settings = load_settings()
        if "worker" in argv and not help_only:  # also `churnwatch faust --debug worker`
            from agents.cli import _prepare_topics

            _check_web_port(argv, settings.web_bind, settings.web_port)
            _prepare_topics(settings)
        from agents.app import create_app

        app = create_app(settings)
    except SettingsError as exc:
        fail(str(exc))
    except Exception as exc:  # a start-up failure: say what and stop, no traceback wall
        from rules.pack import PackError

        if isinstance(exc, PackError):
            fail(str(exc))
        raise
    sys.argv = ["churnwatch", *argv]
    app.main()


def _option_value(argv: list[str], names: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _check_web_port(argv: list[str], bind: str, port: int) -> None:
    """A web port already in use stops the worker here, in one line (Faust would crash later)."""
    from agents.cli_util import fail

    given = _option_value(argv, ("-p", "--web-port"))
    bind = _option_value(argv, ("-b", "--web-bind")) or bind
    try:
        port = int(given) if given is not None else port
    except ValueError:
        return  # Faust reports the bad value itself
    problem = port_problem(bind, port)
    if problem:
        fail(f"{problem}: stop what uses it, or set CHURNWATCH_WEB_PORT (or worker --web-port)")


def port_problem(bind: str, port: int) -> str | None:
    """Why a TCP server cannot listen on ``bind:port``, or None."""
    try:
        infos = socket.getaddrinfo(bind or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {bind}:{port}: {exc.strerror}"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {bind} is already in use"
            return f"cannot listen on {bind}:{port}: {exc.strerror}"
    return None


SHORT_HELP = {
    "worker": SHORT_HELP_WORKER,
    "notify": "deliver alerts from the alerts topic to webhooks, by a routing file",
    "alerts": "alerts as a table (the topic, or replay's output), with a summary",
    "replay": "run the engine offline over JSON Lines events; alerts as JSON Lines",
    "simulate": "synthetic traffic to the input topics, or to JSON Lines (--out)",
    "rules": "rules check FILE: validate a rule pack",
    "fit": "fit the buying model (MBG/NBD) to JSON Lines events",
    "backtest": "how well the rules foresee churn at cut-offs (AUC, precision, lead time)",
}


def _add_commands() -> None:
    from agents.cli import COMMANDS
    from agents.cli_alerts import alerts_command
    from agents.notify.cli import notify_command

    for command in (*COMMANDS.values(), notify_command, alerts_command):
        command.short_help = SHORT_HELP.get(command.name or "", command.short_help)
        cli.add_command(command)


_add_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``churnwatch`` console script."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="churnwatch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: click's message, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("", err=True)
        sys.exit(130)
    except OSError as exc:  # a file the user named: one line, not a traceback
        if exc.filename is None:
            raise
        click.echo(f"churnwatch: {exc.filename}: {exc.strerror or exc}", err=True)
        sys.exit(2)
