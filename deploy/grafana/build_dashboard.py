"""Builds deploy/grafana/dashboards/churnwatch.json (the dashboard as code).

Run: ``.venv/bin/python deploy/grafana/build_dashboard.py``; a test checks the JSON is current and
that every PromQL expression names only series the worker exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards" / "churnwatch.json"
DS = {"type": "prometheus", "uid": "${datasource}"}

# (title, unit, [(expr, legend)], kind, width)
PANELS: list[tuple[str, str, list[tuple[str, str]], str, int]] = [
    (
        "Events processed /s",
        "ops",
        [("sum by (topic, outcome) (rate(churnwatch_events_total[1m]))", "{{topic}} {{outcome}}")],
        "timeseries",
        12,
    ),
    ("Consumer lag", "short", [("sum by (topic) (churnwatch_consumer_lag_messages)", "{{topic}}")], "timeseries", 12),
    (
        "Event-to-alert latency",
        "s",
        [
            (
                "histogram_quantile(0.5, sum by (le) (rate(churnwatch_event_to_alert_latency_seconds_bucket[5m])))",
                "p50",
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(churnwatch_event_to_alert_latency_seconds_bucket[5m])))",
                "p99",
            ),
        ],
        "timeseries",
        12,
    ),
    (
        "Tick duration",
        "s",
        [
            ("histogram_quantile(0.99, sum by (le) (rate(churnwatch_tick_duration_seconds_bucket[15m])))", "p99"),
        ],
        "timeseries",
        12,
    ),
    (
        "Dead letters /s by reason",
        "ops",
        [("sum by (reason) (rate(churnwatch_dead_letters_total[5m]))", "{{reason}}")],
        "timeseries",
        12,
    ),
    (
        "Alerts /h by tier and status",
        "short",
        [("sum by (tier, status) (increase(churnwatch_alerts_total[1h]))", "{{status}} {{tier}}")],
        "timeseries",
        12,
    ),
    ("Customers by tier", "short", [("sum by (tier) (churnwatch_customers)", "{{tier}}")], "timeseries", 12),
    (
        "Revenue at risk by tier",
        "currencyUSD",
        [("sum by (tier) (churnwatch_revenue_at_risk)", "{{tier}}")],
        "timeseries",
        12,
    ),
    ("Churn rate (30 days)", "percent", [("avg(churnwatch_churn_rate_percent)", "churn rate")], "stat", 6),
    ("NPS", "none", [("avg(churnwatch_nps)", "NPS")], "stat", 6),
    (
        "Firing rules /h",
        "short",
        [("sum by (rule) (increase(churnwatch_rule_firings_total[1h]))", "{{rule}}")],
        "timeseries",
        6,
    ),
    (
        "Redis write failures",
        "short",
        [("sum(increase(churnwatch_redis_write_failures_total[15m]))", "failures")],
        "stat",
        6,
    ),
    ("Workers up", "short", [('sum(up{job="churnwatch"})', "up")], "stat", 6),
]


def panel(
    i: int, x: int, y: int, title: str, unit: str, targets: list[tuple[str, str]], kind: str, w: int
) -> dict[str, Any]:
    return {
        "id": i,
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(65 + n), "datasource": DS, "expr": expr, "legendFormat": legend}
            for n, (expr, legend) in enumerate(targets)
        ],
    }


def build() -> dict[str, Any]:
    panels, x, y = [], 0, 0
    for i, (title, unit, targets, kind, w) in enumerate(PANELS, 1):
        if x + w > 24:
            x, y = 0, y + 8
        panels.append(panel(i, x, y, title, unit, targets, kind, w))
        x += w
    return {
        "uid": "churnwatch",
        "title": "churnwatch",
        "tags": ["churnwatch", "kafka", "faust"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
