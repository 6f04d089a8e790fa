"""The rule pack: the default rules firing and not, scores, tiers, and `rules check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agents.cli import offline
from rules.pack import DEFAULT_PACK, PackError, check_pack, load_pack, parse_pack
from rules.scoring import Tiers, risk_score
from rules.signals import SIGNAL_NAMES

PACK = load_pack()


def quiet() -> dict[str, Any]:
    return dict.fromkeys(SIGNAL_NAMES) | {"subscription_status": "none", "logins_total": 0, "orders_total": 0}


CASES = [
    (
        "login_inactivity",
        {"days_since_last_login": 14.0, "logins_total": 3},
        {"days_since_last_login": 13.99, "logins_total": 3},
    ),
    (
        "login_inactivity",
        {"days_since_last_login": 30.0, "logins_total": 3},
        {"days_since_last_login": 30.0, "logins_total": 2},
    ),
    ("login_decline", {"login_trend": 0.5}, {"login_trend": 0.51}),
    ("order_gap", {"order_gap_ratio": 3.0, "orders_total": 3}, {"order_gap_ratio": 3.0, "orders_total": 2}),
    ("payment_failures", {"payment_failures_30d": 2}, {"payment_failures_30d": 1, "consecutive_payment_failures": 1}),
    ("payment_failures", {"consecutive_payment_failures": 2}, {"consecutive_payment_failures": 1}),
    ("chargeback", {"chargebacks_90d": 1}, {"chargebacks_90d": 0}),
    ("subscription_downgrade", {"subscription_status": "paused"}, {"subscription_status": "active"}),
    ("subscription_downgrade", {"subscription_status": "downgraded"}, {"subscription_status": "none"}),
    ("subscription_cancelled", {"subscription_status": "cancelled"}, {"subscription_status": "paused"}),
    ("ticket_spike", {"tickets_opened_14d": 3}, {"tickets_opened_14d": 2}),
    ("urgent_ticket_unresolved", {"open_urgent_ticket_hours": 48.0}, {"open_urgent_ticket_hours": 47.9}),
    (
        "negative_sentiment",
        {"avg_sentiment_30d": -0.3, "sentiment_count_30d": 2},
        {"avg_sentiment_30d": -0.3, "sentiment_count_30d": 1},
    ),
    (
        "negative_sentiment",
        {"avg_sentiment_30d": -0.9, "sentiment_count_30d": 5},
        {"avg_sentiment_30d": -0.29, "sentiment_count_30d": 5},
    ),
    ("nps_detractor", {"last_nps": 6}, {"last_nps": 7}),
]


@pytest.mark.parametrize(("rule", "fires", "holds"), CASES)
def test_every_default_rule_fires_and_does_not(rule: str, fires: dict[str, Any], holds: dict[str, Any]) -> None:
    assert rule in [h.rule for h in PACK.evaluate(quiet() | fires).hits]
    assert rule not in [h.rule for h in PACK.evaluate(quiet() | holds).hits]


def test_null_signals_never_fire() -> None:
    evaluation = PACK.evaluate(quiet())
    assert evaluation.hits == () and evaluation.score == 0.0 and evaluation.tier == "healthy"


def test_explanations_name_rule_signal_value_threshold() -> None:
    hit = PACK.evaluate(quiet() | {"days_since_last_login": 15.2, "logins_total": 9}).hits[0]
    assert hit.as_dict() == {
        "rule": "login_inactivity",
        "weight": 35,
        "signal": "days_since_last_login",
        "value": 15.2,
        "threshold": 14,
        "reason": "no login for 15.2 days (threshold 14)",
    }
    hit = PACK.evaluate(quiet() | {"consecutive_payment_failures": 3}).hits[0]
    assert (hit.signal, hit.value, hit.threshold) == ("consecutive_payment_failures", 3, 2)


def test_score_and_tiers() -> None:
    assert risk_score([]) == 0.0
    assert risk_score([35]) == 35.0
    assert risk_score([35, 25]) == 51.3  # 100 x (1 - 0.65 x 0.75) = 51.25, rounded half up
    assert risk_score([100, 20]) == 100.0
    tiers = Tiers()
    assert [tiers.tier(s) for s in (0, 24.9, 25, 49.9, 50, 74.9, 75, 100)] == [
        "healthy",
        "healthy",
        "watch",
        "watch",
        "at_risk",
        "at_risk",
        "critical",
        "critical",
    ]
    evaluation = PACK.evaluate(quiet() | {"days_since_last_login": 20.0, "logins_total": 5, "login_trend": 0.0})
    assert (evaluation.score, evaluation.tier) == (51.3, "at_risk")


BAD_PACK = """\
version: 1
tiers:
  watch: 50
  at_risk: 40
  critical: 75
rules:
  - id: a
    weight: 20
    signal: no_such_signal
    op: ">="
    threshold: 1
  - id: a
    weight: 150
    signal: logins_7d
    threshold: 1
  - id: c
    weight: 10
    signal: logins_7d
    op: "=~"
    threshold: 1
  - id: d
    weight: 10
    signal: logins_7d
    threshold: 2
    when: "logins_7d >= "
  - id: e
    weight: 10
    signal: logins_7d
    threshold: 2
    when: "mystery > 1"
"""


def test_check_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(BAD_PACK)
    problems = check_pack(path)
    found = {(p.line, p.reason.split(":")[0]) for p in problems}
    text = "\n".join(str(p) for p in problems)
    assert all(str(path) == p.file for p in problems)
    assert (2, "tiers not increasing") in found
    assert any(p.line == 9 and "unknown signal 'no_such_signal'" in p.reason for p in problems), text
    assert any(p.line == 12 and "duplicate rule id 'a'" in p.reason for p in problems), text
    assert any(p.line == 13 and "weight must be a number in 0..100" in p.reason for p in problems), text
    assert any(p.line == 19 and "unknown op" in p.reason for p in problems), text
    assert any(p.line == 25 and "bad expression" in p.reason for p in problems), text
    assert any(p.line == 30 and "unknown signal(s) mystery" in p.reason for p in problems), text
    with pytest.raises(PackError):
        load_pack(path)


def test_not_yaml_and_empty() -> None:
    _, problems = parse_pack("rules: [", "x.yaml")
    assert problems and "not valid YAML" in problems[0].reason
    _, problems = parse_pack("version: 1\ntiers: {watch: 25, at_risk: 50, critical: 75}\n", "x.yaml")
    assert "'rules' must be a non-empty list" in problems[0].reason


def test_rules_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(offline, ["rules", "check", str(DEFAULT_PACK)])
    assert ok.exit_code == 0 and "11 rules" in ok.output
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_PACK)
    bad = runner.invoke(offline, ["rules", "check", str(path)])
    assert bad.exit_code == 1
    assert f"{path}:9: rule 'a': unknown signal 'no_such_signal'" in bad.output
