"""``churnwatch fit EVENTS... --out MODEL.yaml``: fit the buying model by maximum likelihood."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from agents.cli_util import fail, limits_of, parse_date, settings_or_fail
from rules.model import BuyingModel, History


@click.command("fit")
@click.argument("events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="model file to write")
@click.option("--until", default=None, help="fit on the events before this date (default: all; ages at the last event)")
@click.option("--kind", type=click.Choice(["mbgnbd", "bgnbd"]), default="mbgnbd", show_default=True)
def fit_command(events: tuple[Path, ...], out: Path, until: str | None, kind: str) -> None:
    """Fit the buying model (MBG/NBD) to the orders of JSON Lines EVENTS files, and the same model
    to the successful logins when at least 2 customers logged in; write it as YAML.

    Bad lines are reported and skipped as `replay` does. Exit code: 0 all lines good, 1 some bad
    lines, 2 usage error or nothing to fit.
    """
    from agents.model_file import dump_model
    from agents.replay import read_events
    from rules.fit import fit, histories, visit_histories
    from streams.timefmt import format_ts

    settings = settings_or_fail()
    bad: list = []
    parsed = read_events(events, limits_of(settings), bad)
    for line in bad[:100]:
        click.echo(str(line), err=True)
    at = parse_date(until) if until is not None else (parsed[-1].ts + 1e-3 if parsed else 0.0)
    found = histories(parsed, at)
    try:
        model = fit(list(found.values()), kind)
    except ValueError as exc:
        fail(f"fit: {exc}")
    click.echo(f"fit: {kind} until {format_ts(at)}", err=True)
    _report("orders", model, found)
    visits = visit_histories(parsed, at)
    if len(visits) >= 2:
        model = replace(model, visits=fit(list(visits.values()), kind))
        assert model.visits is not None
        _report("visits (successful logins)", model.visits, visits)
    out.write_text(dump_model(model, {"until": format_ts(at), "events_files": [str(p) for p in events]}))
    click.echo(f"  wrote {out}", err=True)
    sys.exit(1 if bad else 0)


def _report(what: str, model: BuyingModel, found: dict[str, History]) -> None:
    repeaters = sum(1 for h in found.values() if h[0] > 0)
    click.echo(
        f"  {what}: {model.customers} customers ({repeaters} more than once)\n"
        f"    r = {model.r:.6g}  alpha = {model.alpha:.6g} days  a = {model.a:.6g}  b = {model.b:.6g}\n"
        f"    log-likelihood = {model.log_likelihood:.4f}",
        err=True,
    )
