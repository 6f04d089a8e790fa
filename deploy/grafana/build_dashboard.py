"""Builds deploy/grafana/dashboards/churnwatch.json (the dashboard as code).

Run: ``.venv/bin/python deploy/grafana/build_dashboard.py``; a test checks the JSON is current and
that every PromQL expression names only series the worker exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards" / "churnwatch.json"
PICTURE = Path(__file__).resolve().parent / "dashboards" / "churnwatch-panels.svg"
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
        "Handled, not yet committed (redelivered after a crash)",
        "short",
        [("sum by (topic) (churnwatch_uncommitted_offsets)", "{{topic}}")],
        "timeseries",
        12,
    ),
    (
        "Dead letters not sent",
        "short",
        [("sum(increase(churnwatch_dead_letter_send_failures_total[1h]))", "last hour")],
        "timeseries",
        12,
    ),
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
    (
        "Acknowledgements and alerts held back /h",
        "short",
        [
            ("sum(increase(churnwatch_acknowledgements_total[1h]))", "acknowledgements"),
            ("sum(increase(churnwatch_alerts_held_back_total[1h]))", "alerts held back"),
        ],
        "timeseries",
        12,
    ),
    (
        "Notify: webhook deliveries /s by route",
        "ops",
        [
            ("sum by (route) (rate(churnwatch_notify_sent_total[5m]))", "sent {{route}}"),
            ("sum by (route) (rate(churnwatch_notify_retries_total[5m]))", "retried {{route}}"),
            ("sum by (route, reason) (rate(churnwatch_notify_failed_total[5m]))", "failed {{route}} {{reason}}"),
        ],
        "timeseries",
        12,
    ),
    (
        "Notify: delivery latency (retries included)",
        "s",
        [
            ("histogram_quantile(0.5, sum by (le) (rate(churnwatch_notify_delivery_seconds_bucket[5m])))", "p50"),
            ("histogram_quantile(0.99, sum by (le) (rate(churnwatch_notify_delivery_seconds_bucket[5m])))", "p99"),
        ],
        "timeseries",
        12,
    ),
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


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_svg() -> str:
    """A picture of the panels as Grafana lays them out (title, kind, first query); no data is drawn."""
    unit_x, unit_y = 40, 22
    panels = build()["panels"]
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) * unit_y + 50
    width = 24 * unit_x + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#111217"/>',
        '<text x="10" y="28" fill="#d8d9da" font-size="18">churnwatch — Grafana dashboard panels</text>',
    ]
    for p in panels:
        g = p["gridPos"]
        x, y = 10 + g["x"] * unit_x, 40 + g["y"] * unit_y
        w, h = g["w"] * unit_x - 6, g["h"] * unit_y - 6
        expr = p["targets"][0]["expr"]
        kind = f"{p['type']}, {p['fieldConfig']['defaults']['unit']}"
        mono = 'fill="#6e9fff" font-size="10" font-family="monospace"'
        expr = expr if len(expr) <= g["w"] * 6 else expr[: g["w"] * 6 - 1] + "…"
        out += [
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="#181b1f" stroke="#2c3235"/>',
            f'<text x="{x + 10}" y="{y + 22}" fill="#d8d9da" font-size="14">{_esc(p["title"])}</text>',
            f'<text x="{x + 10}" y="{y + 40}" fill="#8e8e8e" font-size="11">{kind}</text>',
            f'<text x="{x + 10}" y="{y + h - 12}" {mono}>{_esc(expr)}</text>',
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    PICTURE.write_text(render_svg())
    print(f"wrote {OUT} and {PICTURE}")
