"""The backtest's readable table (terminal, README) from its JSON document."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rules.metrics import TOP_SHARES
from rules.scoring import TIER_NAMES


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _top(key: str, r: dict[str, Any]) -> str:
    return f"{_pct(r[key]['precision'])}, {_num(r[key]['lift'], 2)}"


def _flagged(r: dict[str, Any]) -> str:
    if "above_healthy" not in r:
        return ""
    row = r["above_healthy"]
    return f"{row['customers']}, {_pct(row['precision'])}, {_pct(row['recall'])}"


def _tier(tier: str, r: dict[str, Any]) -> str:
    if "tiers" not in r:
        return ""
    row = r["tiers"][tier]
    return f"{row['customers']}, {_pct(row['precision'])}, {_pct(row['recall'])}"


def _alerts(r: dict[str, Any]) -> str:
    return _num(r.get("alerts_per_1000"), 1) if "tiers" in r else ""


def _rows(entry: dict[str, Any]) -> list[tuple[str, Callable[[dict[str, Any]], str]]]:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [("ROC AUC", lambda r: _num(r["auc"], 4))]
    for share in TOP_SHARES:
        key = f"top_{round(share * 100)}pct"
        rows.append((f"top {round(share * 100)}%: precision, lift", partial(_top, key)))
    rows.append(("above healthy: customers, precision, recall", _flagged))
    rows.extend((f"{tier}: customers, precision, recall", partial(_tier, tier)) for tier in TIER_NAMES)
    rows.append(("firing alerts per 1,000 (30 days)", _alerts))
    rows.append(("lead time, days: median [p25, p75] (n)", _lead))
    return rows


def _lead(r: dict[str, Any]) -> str:
    lead = r.get("lead_time_days")
    if not lead:
        return ""
    if not lead["count"]:
        return "– (0)"
    return f"{_num(lead['median'], 0)} [{_num(lead['p25'], 0)}, {_num(lead['p75'], 0)}] ({lead['count']})"


def markdown_table(entry: dict[str, Any]) -> str:
    """One cut-off and subset as a Markdown table: a row per metric, a column per ranker."""
    names = list(entry["rankers"])
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, cell in _rows(entry):
        lines.append(f"| {label} | " + " | ".join(cell(entry["rankers"][n]) for n in names) + " |")
    return "\n".join(lines)


def title(entry: dict[str, Any], horizon_days: float) -> str:
    return (
        f"cut-off {entry['cutoff'][:10]}, horizon {horizon_days:g} days, {entry['subset']} customers: "
        f"{entry['customers']}, churned {entry['churners']} ({_pct(entry['base_rate'])})"
    )


def text_report(doc: dict[str, Any]) -> str:
    parts = [f"label: churned = {doc['label_rule']}"]
    if doc["holdout_share"]:
        parts.append(f"held-out part: {_pct(doc['holdout_share'])} of customers, chosen by a hash of their id")
    for entry in doc["results"]:
        parts.append("")
        parts.append(title(entry, doc["horizon_days"]))
        parts.append(markdown_table(entry))
    for change in doc["tier_changes"]:
        parts.append("")
        moves = ", ".join(f"{k}: {v}" for k, v in change["moves"].items()) or "none"
        first, second = doc["rankers"][0]["name"], doc["rankers"][1]["name"]
        parts.append(
            f"tier changes {first} -> {second} at {change['cutoff'][:10]}: {change['changed']} customers ({moves})"
        )
        for row in change["customers"]:
            parts.append(f"  {row['customer_id']}: {row['from']} -> {row['to']}")
    return "\n".join(parts)
