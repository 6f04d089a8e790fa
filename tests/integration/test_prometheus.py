"""A real Prometheus (Debian's package, on loopback) scrapes a real worker; promtool checks our rules."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from streams.simulate import SimConfig, generate
from tests.integration.harness import ROOT, WorkerProcess, free_port, produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def prometheus_bin() -> Path:
    proc = subprocess.run([str(ROOT / "deploy/prometheus/install.sh")], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"could not install Debian's prometheus package:\n{proc.stderr[-2000:]}")
    return Path("/usr/bin/prometheus")


def test_promtool_checks_the_rules_and_config(prometheus_bin: Path) -> None:
    rules = subprocess.run(
        ["promtool", "check", "rules", str(ROOT / "deploy/prometheus/churnwatch-alerts.yml")],
        capture_output=True,
        text=True,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 10 rules found" in rules.stdout
    config = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", str(ROOT / "deploy/prometheus/prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert config.returncode == 0, config.stdout + config.stderr


def query(port: int, expr: str) -> list[dict]:  # type: ignore[type-arg]
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success"
    return body["data"]["result"]  # type: ignore[no-any-return]


def test_prometheus_scrapes_our_series_from_a_real_worker(
    services: dict[str, str], prometheus_bin: Path, tmp_path: Path
) -> None:
    worker = WorkerProcess(services, "prom").start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{ROOT / 'deploy/prometheus/churnwatch-alerts.yml'}']\n"
        "scrape_configs:\n"
        "  - job_name: churnwatch\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{worker.port}']}}]\n"
    )
    log = (ROOT / ".cache" / "logs" / f"test-prometheus-{port}.log").open("wb")
    prom = subprocess.Popen(
        [
            str(prometheus_bin),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        events = list(generate(SimConfig(customers=60, days=40, seed=5, churn_share=0.5)))
        produce(worker, events)
        worker.wait_for_events(len(events))
        wanted = {
            "churnwatch_events_total": None,
            "churnwatch_alerts_total": None,
            "churnwatch_customers": None,
            "churnwatch_revenue_at_risk": None,
            'up{job="churnwatch"}': None,
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(v is None for v in wanted.values()):
            for expr in wanted:
                try:
                    result = query(port, expr)
                except OSError:
                    continue
                if result:
                    wanted[expr] = result  # type: ignore[assignment]
            time.sleep(1)
        assert all(wanted.values()), {k: v for k, v in wanted.items() if not v}
        applied = sum(float(r["value"][1]) for r in query(port, 'churnwatch_events_total{outcome="applied"}'))
        assert applied == len(events)
        tiers = {r["metric"]["tier"] for r in wanted["churnwatch_customers"] or []}
        assert tiers == {"healthy", "watch", "at_risk", "critical"}
        for r in query(port, "{__name__=~'churnwatch_.+'}"):
            assert not any(v.startswith("c-") for v in r["metric"].values()), r["metric"]  # no customer ids in labels
    finally:
        prom.terminate()
        prom.wait(timeout=20)
        log.close()
        worker.stop()
