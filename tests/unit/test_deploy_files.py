"""The operational files: the dashboard names only series the worker exports, and it is current;
the compose file and Helm values parse."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry
from ruamel.yaml import YAML

from agents.metrics import Metrics
from agents.notify.metrics import NotifyMetrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "churnwatch.json"
PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "increase",
    "histogram_quantile",
    "avg",
    "le",
    "deriv",
    "clamp_min",
    "and",
    "up",
    "max",
}


def exported_series() -> set[str]:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.events.labels("t", "applied").inc()
    NotifyMetrics(registry)  # churnwatch notify's series (its own process; scraped like a worker)
    names = set()
    for family in registry.collect():
        names.add(family.name)
        for sample in family.samples:
            names.add(sample.name)
        if family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_count", "_sum")}
        if family.type == "counter":
            names.add(family.name + "_total")
    return names | {"up"}


def series_in(expr: str) -> set[str]:
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    labels = set(re.findall(r"by \(([^)]*)\)", expr))
    label_words = {w.strip() for group in labels for w in group.split(",")}
    return {w for w in words if w not in PROMQL_WORDS and w not in label_words and not w.isdigit()}


def test_every_dashboard_expression_names_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_series()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 13
    for expr in exprs:
        missing = series_in(expr) - exported
        assert not missing, f"{expr!r} names series the worker does not export: {missing}"
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("events", "lag", "latency", "dead letters", "customers by tier", "churn", "nps", "revenue", "notify"):
        assert topic in titles


def test_dashboard_json_is_built_from_the_script() -> None:
    spec = importlib.util.spec_from_file_location("build_dashboard", ROOT / "deploy/grafana/build_dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DASHBOARD.read_text() == module.render(), "run deploy/grafana/build_dashboard.py"
    assert module.PICTURE.read_text() == module.render_svg(), "run deploy/grafana/build_dashboard.py"


def test_alert_rules_name_exported_series() -> None:
    rules = YAML(typ="safe").load((ROOT / "deploy/prometheus/churnwatch-alerts.yml").read_text())
    exported = exported_series()
    alerts = rules["groups"][0]["rules"]
    assert {r["alert"] for r in alerts} >= {
        "ChurnwatchWorkerDown",
        "ChurnwatchConsumerLagGrowing",
        "ChurnwatchDeadLetterRateHigh",
        "ChurnwatchRedisWritesFailing",
        "ChurnwatchTickOverrun",
        "ChurnwatchNotifyDeliveriesFailing",
    }
    for rule in alerts:
        assert not series_in(rule["expr"]) - exported, rule["expr"]
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]


def test_compose_and_helm_values_parse() -> None:
    compose = YAML(typ="safe").load((ROOT / "deploy/docker-compose.yml").read_text())
    assert {"kafka", "redis", "prometheus", "grafana", "worker-1", "worker-2"} <= set(compose["services"])
    values = YAML(typ="safe").load((ROOT / "deploy/helm/churnwatch/values.yaml").read_text())
    assert values["replicas"] >= 1 and values["storage"]["size"]
