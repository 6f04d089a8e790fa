"""``churnwatch alerts``: alerts as an aligned table, from the alerts topic or from replay's output,
filtered by tier, rule, status and customer, with a summary by tier and rule at the end."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click
import orjson

from agents.cli_util import fail

TIERS = ("healthy", "watch", "at_risk", "critical")
COLORS = {"watch": "33", "at_risk": "35", "critical": "31", "healthy": "32"}
COLUMNS = (
    ("event time", "event_time", 20, "<"),
    ("status", "status", 8, "<"),
    ("tier", "tier", 8, "<"),
    ("from", "previous_tier", 8, "<"),
    ("customer", "customer_id", 10, "<"),
    ("score", "risk_score", 5, ">"),
    ("at risk", "revenue_at_risk", 10, ">"),
    ("rules", "rules", 0, "<"),
)


def time_key(event_time: str) -> str:
    """RFC 3339 UTC times (``...:30Z``, ``...:30.120Z``) as strings that sort in time order."""
    t = event_time.rstrip("Z")
    return t if "." in t else t + ".000"


@dataclass
class Filter:
    tiers: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()

    def __call__(self, alert: dict[str, Any]) -> bool:
        if self.tiers and alert.get("tier") not in self.tiers:
            return False
        if self.statuses and alert.get("status") not in self.statuses:
            return False
        if self.customers and alert.get("customer_id") not in self.customers:
            return False
        return not self.rules or any(r.get("rule") in self.rules for r in alert.get("rules") or ())


@dataclass
class Summary:
    alerts: int = 0
    by_status_tier: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    customers: set[str] = field(default_factory=set)
    revenue_at_risk: float = 0.0  # of firing alerts

    def add(self, alert: dict[str, Any]) -> None:
        self.alerts += 1
        status, tier = str(alert.get("status")), str(alert.get("tier"))
        self.by_status_tier[(status, tier)] += 1
        self.customers.add(str(alert.get("customer_id")))
        if status == "firing":
            self.revenue_at_risk += float(alert.get("revenue_at_risk") or 0.0)
            for hit in alert.get("rules") or ():
                self.by_rule[str(hit.get("rule"))] += 1

    def lines(self) -> list[str]:
        firing = sum(n for (s, _), n in self.by_status_tier.items() if s == "firing")
        out = [
            f"{self.alerts} alerts ({firing} firing, {self.alerts - firing} resolved) for {len(self.customers)} "
            f"customers; revenue at risk in firing alerts {self.revenue_at_risk:,.2f}",
            "by tier:",
        ]
        for tier in TIERS:
            for status in ("firing", "resolved"):
                n = self.by_status_tier.get((status, tier))
                if n:
                    out.append(f"  {status:<8} {tier:<8} {n:>7}")
        if self.by_rule:
            out.append("by rule (in firing alerts):")
            width = max(len(r) for r in self.by_rule)
            out += [f"  {rule:<{width}} {n:>7}" for rule, n in self.by_rule.most_common()]
        return out


def cells(alert: dict[str, Any]) -> list[str]:
    out = []
    for _, key, _, _ in COLUMNS:
        value = alert.get(key)
        if key == "rules":
            out.append(", ".join(str(r.get("rule")) for r in value or ()) or "-")
        elif key == "risk_score":
            out.append(f"{float(value or 0):.1f}")
        elif key == "revenue_at_risk":
            out.append(f"{float(value or 0):,.2f}")
        else:
            out.append("-" if value is None else str(value))
    return out


def render(rows: list[list[str]], tiers: list[str], color: bool, widths: list[int] | None = None) -> Iterator[str]:
    """The rows (and a header) aligned; ``widths``: at least the columns' default widths."""
    if widths is None:
        widths = [max([w, len(h), *(len(r[i]) for r in rows)]) for i, (h, _, w, _) in enumerate(COLUMNS)]
    yield _line([c[0] for c in COLUMNS], widths, None, False)
    for row, tier in zip(rows, tiers, strict=True):
        yield _line(row, widths, tier, color)


def _line(values: list[str], widths: list[int], tier: str | None, color: bool) -> str:
    parts = []
    for i, (value, (_, key, _, align)) in enumerate(zip(values, COLUMNS, strict=True)):
        text = value if i == len(COLUMNS) - 1 else f"{value:{align}{widths[i]}}"
        if color and tier is not None and key == "tier":
            text = f"\x1b[{COLORS.get(tier, '0')}m{text}\x1b[0m"
        parts.append(text)
    return "  ".join(parts).rstrip()


def read_files(files: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for file in files:
        fh = sys.stdin.buffer if str(file) == "-" else file.open("rb")
        try:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    alert = orjson.loads(line)
                except orjson.JSONDecodeError:
                    click.echo(f"{file}:{number}: not JSON, skipped", err=True)
                    continue
                if isinstance(alert, dict) and "status" in alert and "tier" in alert:
                    yield alert
                else:
                    click.echo(f"{file}:{number}: not an alert, skipped", err=True)
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()


def read_topic(follow: bool, idle_ms: int = 1500) -> Iterator[dict[str, Any]]:
    """The alerts topic from its beginning (no consumer group: nothing is committed); without
    ``follow``, up to the end offsets it had when the command started."""
    from kafka import KafkaConsumer, TopicPartition

    from agents.kafka_config import kafka_python_config
    from agents.preflight import kafka_problem
    from agents.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    problem = kafka_problem(settings)
    if problem:
        fail(problem)
    topic = settings.topic("alerts")
    consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, **kafka_python_config(settings))
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            fail(f"no topic {topic!r} at {settings.kafka_bootstrap} (CHURNWATCH_TOPIC_PREFIX, CHURNWATCH_TOPIC_ALERTS)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while True:
            if not follow and all(consumer.position(tp) >= ends[tp] for tp in tps):
                return
            batch = consumer.poll(timeout_ms=idle_ms)
            for tp, messages in sorted(batch.items(), key=lambda kv: kv[0].partition):
                for message in messages:
                    if not follow and message.offset >= ends[tp]:
                        continue
                    try:
                        alert = orjson.loads(message.value)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(alert, dict):
                        yield alert
    finally:
        consumer.close()


@click.command("alerts")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--follow", "-f", is_flag=True, help="keep reading the alerts topic (Ctrl-C: summary and stop)")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(TIERS), help="only this tier (repeatable)")
@click.option("--rule", "rules", multiple=True, help="only alerts where this rule fired (repeatable)")
@click.option("--customer", "customers", multiple=True, help="only this customer id (repeatable)")
@click.option("--status", "statuses", multiple=True, type=click.Choice(["firing", "resolved"]), help="only this status")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="show at most N rows (the summary counts all)")
@click.option("--no-summary", is_flag=True, help="leave out the summary")
@click.option("--count", is_flag=True, help="print only the number of (matching) alerts")
def alerts_command(
    files: tuple[Path, ...],
    follow: bool,
    tiers: tuple[str, ...],
    rules: tuple[str, ...],
    customers: tuple[str, ...],
    statuses: tuple[str, ...],
    limit: int | None,
    no_summary: bool,
    count: bool,
) -> None:
    """Show alerts as a table: from FILES (replay's JSON Lines, - for stdin) or the alerts topic.

    Without FILES, reads the alerts topic from its beginning up to its end (or on, with --follow).
    Exit code: 0; 2 for a missing file or an unreachable broker.
    """
    if files and follow:
        fail("--follow reads the alerts topic: give no FILES with it")
    if count and follow:
        fail("--count counts what is there: not with --follow")
    for file in files:
        if str(file) != "-" and not file.is_file():
            fail(f"{file}: no such file")
    keep = Filter(frozenset(tiers), frozenset(rules), frozenset(customers), frozenset(statuses))
    source: Iterable[dict[str, Any]] = read_files(files) if files else read_topic(follow)
    if not files and not follow:  # partitions come one after the other: put them in event-time order
        source = sorted(source, key=lambda a: (time_key(str(a.get("event_time"))), str(a.get("customer_id"))))
    out: TextIO = sys.stdout
    color = out.isatty()
    summary = Summary()
    shown = 0
    if count:
        click.echo(str(sum(1 for alert in source if keep(alert))))
        return
    try:
        if follow:  # rows as they come, at the columns' default widths
            widths = [max(w, len(h)) for h, _, w, _ in COLUMNS]
            click.echo(_line([c[0] for c in COLUMNS], widths, None, False))
            for alert in source:
                if not keep(alert):
                    continue
                summary.add(alert)
                if limit is None or shown < limit:
                    click.echo(_line(cells(alert), widths, str(alert.get("tier")), color))
                    shown += 1
        else:
            rows: list[list[str]] = []
            row_tiers: list[str] = []
            for alert in source:
                if not keep(alert):
                    continue
                summary.add(alert)
                if limit is None or len(rows) < limit:
                    rows.append(cells(alert))
                    row_tiers.append(str(alert.get("tier")))
            if rows:
                for line in render(rows, row_tiers, color):
                    click.echo(line)
            shown = len(rows)
    except KeyboardInterrupt:
        time.sleep(0)  # Ctrl-C ends --follow: the summary still follows
    if summary.alerts > shown:
        click.echo(f"... {summary.alerts - shown} more not shown (--limit {limit})")
    if not no_summary:
        click.echo("")
        for line in summary.lines():
            click.echo(line)
