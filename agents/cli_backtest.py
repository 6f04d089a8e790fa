"""``churnwatch backtest``: how well risk at each cut-off foresaw churn within the horizon."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from agents.cli_util import fail, limits_of, model_or_fail, offline_config, parse_date, settings_or_fail

if TYPE_CHECKING:
    from agents.backtest import EventPasses, Variant
    from agents.backtest_run import Result
    from streams.events import Event

LABEL_PARTS = ("orders", "logins", "cancellation")


def _variants(rules_files: tuple[Path, ...], model_file: Path | None, also_without: bool) -> list[Variant]:
    from agents.backtest import Variant
    from agents.pack_file import load_pack
    from rules.pack import PackError

    settings = settings_or_fail()
    model = model_or_fail(model_file, settings)
    variants: list[Variant] = []
    for path in rules_files or (settings.rules,):
        try:
            pack = load_pack(path)
        except PackError as exc:
            fail(str(exc))
        name = Path(path).stem
        if any(v.name.split("+")[0] == name for v in variants):
            name = f"{name}#{len(variants) + 1}"
        if model is not None:
            variants.append(Variant(f"{name}+model", pack, model))
        if model is None or also_without:
            variants.append(Variant(name, pack, None))
    return variants


@click.command("backtest")
@click.argument("events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="rule pack (repeat for two packs side by side; default: CHURNWATCH_RULES)",
)
@click.option(
    "--model", "model_file", type=click.Path(dir_okay=False, path_type=Path), help="buying model (churnwatch fit)"
)
@click.option("--also-without-model", is_flag=True, help="with --model: also run each pack without the model")
@click.option(
    "--cutoff",
    "cutoffs",
    multiple=True,
    required=True,
    help="cut-off date (YYYY-MM-DD, 00:00 UTC); repeatable, or several separated by commas",
)
@click.option("--horizon", type=click.FloatRange(min=0, min_open=True), required=True, help="horizon in days")
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    type=click.Choice(["recency", "bgnbd", "paretonbd"]),
    help="also rank by this",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 0.9),
    default=0.0,
    show_default=True,
    help="share of customers (by a hash of the id) reported apart as the held-out part",
)
@click.option(
    "--label",
    default=",".join(LABEL_PARTS),
    show_default=True,
    help="what the label rule counts: orders,logins (activity that means 'stayed'), cancellation",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the results as JSON ('-': stdout)",
)
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path), help="write the picture (PNG)")
@click.option("--tick-seconds", type=click.FloatRange(min=1.0), default=None, help="tick interval (default 86400)")
def backtest_command(
    events: tuple[Path, ...],
    rules_files: tuple[Path, ...],
    model_file: Path | None,
    also_without_model: bool,
    cutoffs: tuple[str, ...],
    horizon: float,
    baselines: tuple[str, ...],
    holdout: float,
    label: str,
    json_file: Path | None,
    plot_file: Path | None,
    tick_seconds: float | None,
) -> None:
    """Replay EVENTS through the engine up to each --cutoff; measure how its risk foresaw churn.

    Prints a table per cut-off (and per part with --holdout); exit code 0 all lines good, 1 some
    bad lines were reported and skipped (as replay), 2 usage error.
    """
    from agents.backtest_run import Options, backtest
    from agents.sorted_events import SortedInput
    from rules.labels import LabelRule
    from rules.state import DAY

    parts = {p.strip() for p in label.split(",") if p.strip()}
    if parts - set(LABEL_PARTS):
        fail(f"--label: unknown part(s) {', '.join(sorted(parts - set(LABEL_PARTS)))} (of {', '.join(LABEL_PARTS)})")
    rule = LabelRule(*(p in parts for p in LABEL_PARTS))
    variants = _variants(rules_files, model_file, also_without_model)
    settings = settings_or_fail()
    bad: list = []
    parsed = SortedInput(events, limits_of(settings), bad).read_all()  # streamed again by each pass
    for line in bad[:100]:
        click.echo(str(line), err=True)
    dates = sorted({parse_date(c.strip()) for text in cutoffs for c in text.split(",") if c.strip()})
    options = Options(dates, horizon * DAY, baselines, holdout, rule)
    result = backtest(parsed, variants, options, offline_config(settings, tick_seconds, None), _progress)
    result.doc["bad_lines"] = len(bad)
    for warning in result.doc["warnings"]:
        click.echo(f"backtest: warning: {warning}", err=True)
    _write(result, json_file, plot_file)
    sys.exit(1 if bad else 0)


def _progress(events: EventPasses, name: str) -> Iterable[Event]:
    """A progress bar on a terminal for long inputs (as replay shows one)."""
    from agents.replay import PROGRESS_MIN_EVENTS

    if len(events) < PROGRESS_MIN_EVENTS or not sys.stderr.isatty():
        return events
    from tqdm import tqdm

    desc = f"backtest {name}"
    return tqdm(events, total=len(events), file=sys.stderr, unit="ev", unit_scale=True, mininterval=0.5, desc=desc)


def _write(result: Result, json_file: Path | None, plot_file: Path | None) -> None:
    from agents.backtest_report import text_report

    data = orjson.dumps(result.doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    if json_file is not None and str(json_file) == "-":
        sys.stdout.buffer.write(data)
        click.echo(text_report(result.doc), err=True)
    else:
        click.echo(text_report(result.doc))
        if json_file is not None:
            json_file.write_bytes(data)
    if plot_file is not None:
        from agents.backtest_plot import plot

        plot(result.curves, plot_file, f"churnwatch backtest, horizon {result.doc['horizon_days']:g} days")
