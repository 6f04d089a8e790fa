"""The commands ``replay``, ``rules check`` and ``simulate`` (``fit`` and ``backtest`` live in their
own modules): plain click commands that need no broker and start without importing Faust.
The ``churnwatch`` group in front of them, and of Faust's ``worker``, is :mod:`agents.cli_main`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import click

from agents.settings import Settings, SettingsError, load_settings


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"churnwatch: {message}", err=True)
    sys.exit(code)


@click.command("replay")
@click.argument("events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), help="rule pack (YAML)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="alerts file (default: stdout)")
@click.option("--tick-seconds", type=click.FloatRange(min=1.0), default=None, help="tick interval (default 86400)")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="one event clock per partition, customers placed as Kafka's default partitioner places them "
    "(the input topics' partition count: what a worker with the event clock publishes)",
)
@click.option(
    "--max-memory",
    "max_memory_mb",
    type=click.FloatRange(min=1.0),
    default=128.0,  # agents.sorted_events.DEFAULT_MAX_MEMORY_MB (not imported: the CLI starts light)
    show_default=True,
    help="MB of events held while sorting input that is not in time order (more is sorted in chunks on disk; "
    "files already in time order are merged as they are read)",
)
@click.option(
    "--store",
    default="memory://",
    show_default=True,
    help="where the customers' state is kept: memory:// or rocksdb://[PATH] (a temporary one without PATH)",
)
@click.option(
    "--final-tick/--no-final-tick",
    default=True,
    show_default=True,
    help="one more tick at the last event's time (a live worker has no end: --no-final-tick to compare)",
)
@click.option(
    "--model", "model_file", type=click.Path(dir_okay=False, path_type=Path), help="buying model (churnwatch fit)"
)
def replay_command(
    events: tuple[Path, ...],
    rules_file: Path | None,
    out: Path | None,
    tick_seconds: float | None,
    model_file: Path | None,
    partitions: int,
    max_memory_mb: float,
    store: str,
    final_tick: bool,
) -> None:
    """Run the engine over JSON Lines EVENTS files; write the alerts as JSON Lines.

    Exit code: 0 all lines good, 1 some bad lines were reported and skipped, 2 usage error.
    """
    from agents.cli_util import limits_of, model_or_fail, offline_config
    from agents.pack_file import load_pack
    from agents.replay import replay
    from rules.pack import PackError

    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
    if store != "memory://" and not store.startswith("rocksdb://"):
        _fail(f"--store must be memory:// or rocksdb://[PATH], not {store!r}")
    try:
        pack = load_pack(rules_file or settings.rules)
    except PackError as exc:
        _fail(str(exc))
    config = offline_config(settings, tick_seconds, model_or_fail(model_file, settings))
    limits = limits_of(settings)
    sink: Any = out.open("wb") if out is not None else contextlib.nullcontext(sys.stdout.buffer)
    with sink as fh:
        result = replay(
            events,
            pack,
            fh,
            config=config,
            limits=limits,
            partitions=partitions,
            final_tick=final_tick,
            max_memory_mb=max_memory_mb,
            store=store,
        )
        fh.flush()
    for bad in result.bad_lines[:100]:
        click.echo(str(bad), err=True)
    if len(result.bad_lines) > 100:
        click.echo(f"... and {len(result.bad_lines) - 100} more bad lines", err=True)
    click.echo(result.summary(), err=True)
    sys.exit(1 if result.bad_lines else 0)


@click.group("rules")
def rules_group() -> None:
    """Rule pack tools."""


@rules_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def rules_check(file: Path) -> None:
    """Validate a rule pack: every problem with file, line and reason (exit 1), or a summary."""
    from agents.pack_file import run_check

    code, text = run_check(file)
    click.echo(text, err=code != 0)
    sys.exit(code)


@click.command("simulate")
@click.option("--customers", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=60, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--churn-share", type=click.FloatRange(0, 1), default=0.15, show_default=True)
@click.option(
    "--churn-kinds",
    default="fading_logins,failed_payments,angry_tickets,pauses",
    show_default=True,
    help="comma-separated kinds, each optionally with a weight: fading_logins=2,pauses",
)
@click.option("--end", default=None, help="end of the period: epoch seconds, or 'now' (default: now with Kafka)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write JSON Lines here, not to Kafka")
@click.option("--rate", type=click.FloatRange(min=0), default=0.0, help="events/s to Kafka (0: as fast as possible)")
@click.option("--prefix", default="c-", show_default=True, help="customer id prefix")
@click.option("--force", is_flag=True, help="send history a wall-clock worker may dead-letter as too_late")
def simulate_command(
    customers: int,
    days: int,
    seed: int,
    churn_share: float,
    churn_kinds: str,
    end: str | None,
    out: Path | None,
    rate: float,
    prefix: str,
    force: bool = False,
) -> None:
    """Realistic synthetic traffic, to the input topics or (--out) to a JSON Lines file."""
    import orjson

    from streams.simulate import CHURN_KINDS, DEFAULT_END, SimConfig, generate

    kinds: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in churn_kinds.split(","))):
        name, _, weight = part.partition("=")
        if name not in CHURN_KINDS:
            _fail(f"--churn-kinds: unknown kind {name!r} (one of {', '.join(CHURN_KINDS)})")
        try:
            kinds[name] = float(weight) if weight else 1.0
        except ValueError:
            _fail(f"--churn-kinds: weight of {name!r} must be a number")
    if end is None:
        end_ts = DEFAULT_END if out is not None else time.time()
    elif end == "now":
        end_ts = time.time()
    else:
        try:
            end_ts = float(end)
        except ValueError:
            _fail("--end must be epoch seconds or 'now'")
    cfg = SimConfig(customers, days, end_ts, seed, churn_share, kinds, prefix)
    started = time.perf_counter()
    count = 0
    if out is not None:
        with out.open("wb") as fh:
            for event in generate(cfg):
                fh.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
                count += 1
    else:
        from agents.preflight import kafka_problem
        from agents.producer import produce_events

        try:
            settings = load_settings()
        except SettingsError as exc:
            _fail(str(exc))
        problem = kafka_problem(settings) or (None if force else wall_clock_problem(settings, end_ts, days))
        if problem:
            _fail(problem)
        count = produce_events(settings, generate(cfg), rate=rate)
    elapsed = time.perf_counter() - started
    where = str(out) if out is not None else "Kafka"
    click.echo(
        f"simulate: {count} events for {customers} customers over {days} days to {where} in {elapsed:.1f} s", err=True
    )


def wall_clock_problem(settings: Settings, end_ts: float, days: int) -> str | None:
    """simulate to the topics: a worker on the wall clock dead-letters events older than the allowed
    lateness (and newer than its clock plus the skew), so history it cannot take is refused here."""
    from agents.settings import Clock

    if settings.clock is not Clock.WALL:
        return None
    now = time.time()
    oldest = end_ts - days * 86400.0
    lateness = settings.allowed_lateness_seconds
    if oldest >= now - lateness - 120 and end_ts <= now + settings.max_future_skew_seconds:
        return None
    return (
        f"simulate: a worker on the wall clock (CHURNWATCH_CLOCK=wall) dead-letters as too_late every event more "
        f"than {lateness / 86400:g} days (CHURNWATCH_ALLOWED_LATENESS_SECONDS) behind the latest events it has seen, "
        f"and these {days} days of history reach further back: run the worker and simulate with "
        f"CHURNWATCH_CLOCK=event, give --days {max(1, int(lateness // 86400))} or fewer with --end now, or --force "
        f"(a worker that has seen no newer event takes the history in time order)"
    )


def _commands() -> dict[str, click.Command]:
    from agents.cli_backtest import backtest_command
    from agents.cli_fit import fit_command

    return {
        "replay": replay_command,
        "rules": rules_group,
        "simulate": simulate_command,
        "fit": fit_command,
        "backtest": backtest_command,
    }


COMMANDS: dict[str, click.Command] = _commands()


@click.group()
def offline() -> None:
    """churnwatch commands that need no broker."""


for _command in COMMANDS.values():
    offline.add_command(_command)


def main() -> None:
    """The command line without choosing the core (the console script is ``agents.core:main``)."""
    from agents.cli_main import main as cli_main

    cli_main()


def _prepare_topics(settings: Settings) -> None:
    """Before a worker starts: check the connections (a wrong password, CA or protocol stops it here,
    in one line naming the setting), create missing topics (unless disabled), check co-partitioning."""
    from kafka.errors import KafkaError

    from agents.preflight import kafka_problem, redis_problem
    from agents.topics import co_partitioning_problem, ensure_topics, input_partition_counts
    from agents.web import exposure_warning

    problem = kafka_problem(settings) or redis_problem(settings)
    if problem:
        _fail(problem)
    warning = exposure_warning(settings)
    if warning:
        click.echo(f"churnwatch: warning: {warning}", err=True)
    expected = list(settings.input_topics.values())
    try:
        if settings.create_topics:
            ensure_topics(settings)
        counts = input_partition_counts(settings)
    except KafkaError as exc:
        _fail(f"cannot reach Kafka at CHURNWATCH_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}: {exc}")
    problem = co_partitioning_problem(counts, expected)
    if problem:
        _fail(problem)
    settings.partitions = next(iter(counts.values()))


if __name__ == "__main__":
    main()
