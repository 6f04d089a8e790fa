"""``churnwatch fit EVENTS... --out MODEL.yaml``: fit the buying model by maximum likelihood."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import click

from agents.cli_util import fail, limits_of, parse_date, settings_or_fail
from rules.model import BuyingModel, History
from streams.events import Event


@click.command("fit")
@click.argument("events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="model file to write")
@click.option("--until", default=None, help="fit on the events before this date (default: all; ages at the last event)")
@click.option("--kind", type=click.Choice(["mbgnbd", "paretonbd", "bgnbd"]), default="mbgnbd", show_default=True)
@click.option(
    "--propose",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write a pack with weights learned from the labels at --until (needs --until and --horizon)",
)
@click.option(
    "--horizon", type=click.FloatRange(min=0, min_open=True), help="with --propose: the label horizon in days"
)
@click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), help="with --propose: base pack"
)
def fit_command(
    events: tuple[Path, ...],
    out: Path,
    until: str | None,
    kind: str,
    propose: Path | None,
    horizon: float | None,
    rules_file: Path | None,
) -> None:
    """Fit the buying model (MBG/NBD; --kind paretonbd: Pareto/NBD) to the orders of JSON Lines
    EVENTS files, and the same model to the successful logins when at least 2 customers logged
    in; write it as YAML.

    With --propose, also fits the rule weights of the base pack (--rules, default CHURNWATCH_RULES)
    to the labels of the customers at --until (the backtest's label rule, --horizon days) and
    writes the result as a pack to review and backtest. Bad lines are reported and skipped as
    `replay` does. Exit code: 0 all lines good, 1 some bad lines, 2 usage error or nothing to fit.
    """
    from agents.model_file import dump_model
    from agents.sorted_events import SortedInput
    from rules.fit import fit, histories, visit_histories
    from streams.timefmt import format_ts

    if propose is not None and (until is None or horizon is None):
        fail("--propose needs --until (the cut-off) and --horizon (days)")
    settings = settings_or_fail()
    bad: list = []
    parsed = SortedInput(events, limits_of(settings), bad).read_all()  # streamed again by each pass
    for line in bad[:100]:
        click.echo(str(line), err=True)
    at = parse_date(until) if until is not None else (parsed.last_time + 1e-3 if parsed.last_time is not None else 0.0)
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
    if propose is not None and horizon is not None:
        _propose(parsed, model, at, horizon, rules_file or settings.rules, propose)
    sys.exit(1 if bad else 0)


def _report(what: str, model: BuyingModel, found: dict[str, History]) -> None:
    repeaters = sum(1 for h in found.values() if h[0] > 0)
    a, b = ("s", "beta") if model.kind == "paretonbd" else ("a", "b")
    unit = " days" if model.kind == "paretonbd" else ""
    click.echo(
        f"  {what}: {model.customers} customers ({repeaters} more than once)\n"
        f"    r = {model.r:.6g}  alpha = {model.alpha:.6g} days  {a} = {model.a:.6g}  {b} = {model.b:.6g}{unit}\n"
        f"    log-likelihood = {model.log_likelihood:.4f}",
        err=True,
    )


def _propose(events: Iterable[Event], model: BuyingModel, at: float, horizon: float, base: Path, out: Path) -> None:
    from agents.pack_file import load_pack
    from agents.propose_pack import propose
    from rules.engine import EngineConfig
    from rules.pack import PackError

    try:
        pack = load_pack(base)
    except PackError as exc:
        fail(str(exc))
    text, changes = propose(events, pack, model, at, horizon * 86400.0, EngineConfig())
    out.write_text(text)
    click.echo(f"fit: proposed weights (logistic fit of the labels within {horizon:g} days) -> {out}", err=True)
    for c in changes:
        click.echo(f"  {c.rule:<26} fired for {c.fired:>6}  factor {c.factor:5.2f}  {c.old:g} -> {c.new:g}", err=True)
    if not changes:
        click.echo("  no rule fired often enough to fit (20 customers); nothing changed", err=True)
