"""The shipped default pack: exactly contract section 5, each rule firing and not, at its edges."""

from __future__ import annotations

from typing import Any

import pytest

from agents.pack_file import check_pack, load_pack, run_check
from rules.pack import DEFAULT_PACK
from rules.signals import SIGNAL_NAMES
from tests.unit.helpers import CONTRACT_EXAMPLE_RULE

PACK = load_pack()

CONTRACT = {
    "login_inactivity": 35,
    "login_decline": 25,
    "order_gap": 30,
    "payment_failures": 30,
    "chargeback": 40,
    "subscription_downgrade": 30,
    "subscription_cancelled": 100,
    "ticket_spike": 20,
    "urgent_ticket_unresolved": 25,
    "negative_sentiment": 20,
    "nps_detractor": 20,
}


def quiet(**signals: Any) -> dict[str, Any]:
    """A customer with every signal null or at rest, plus ``signals``."""
    base: dict[str, Any] = dict.fromkeys(SIGNAL_NAMES)
    base |= {"subscription_status": "none", "logins_total": 0, "orders_total": 0, "sentiment_count_30d": 0}
    return base | signals


def fired(signals: dict[str, Any]) -> list[str]:
    return [h.rule for h in PACK.evaluate(signals).hits]


# for shops (issue 14); all graded but second_order_lapse (a fixed step for exactly two orders)
ADDED = {"first_order_lapse": 90, "order_lapse": 75, "second_order_lapse": 50, "low_expected_orders": 70}


def test_default_pack_is_the_contract_pack_plus_the_shop_rules() -> None:
    assert {r.id: r.weight for r in PACK.rules} == CONTRACT | ADDED
    assert [r.id for r in PACK.rules] == [*CONTRACT, *ADDED]
    assert all(r.graded is None for r in PACK.rules if r.id in CONTRACT)
    assert all((r.graded is None) == (r.id == "second_order_lapse") for r in PACK.rules if r.id in ADDED)
    assert (PACK.tiers.watch, PACK.tiers.at_risk, PACK.tiers.critical) == (25, 50, 75)
    assert check_pack(DEFAULT_PACK) == []
    code, text = run_check(DEFAULT_PACK)
    assert code == 0 and "15 rules" in text


# (rule, signals that fire it, signals that do not): the edge is exactly at the threshold
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
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
    (
        "login_inactivity",
        {"days_since_last_login": 14, "logins_total": 3},
        {"days_since_last_login": None, "logins_total": 50},
    ),
    (
        "login_inactivity",
        {"days_since_last_login": 15.2, "logins_total": 3.0},
        {"days_since_last_login": 15.2, "logins_total": None},
    ),
    ("login_decline", {"login_trend": 0.5}, {"login_trend": 0.51}),
    ("login_decline", {"login_trend": 0.0}, {"login_trend": None}),
    ("order_gap", {"order_gap_ratio": 3.0, "orders_total": 3}, {"order_gap_ratio": 3.0, "orders_total": 2}),
    ("order_gap", {"order_gap_ratio": 3, "orders_total": 10}, {"order_gap_ratio": 2.99, "orders_total": 10}),
    ("order_gap", {"order_gap_ratio": 8.0, "orders_total": 10}, {"order_gap_ratio": None, "orders_total": 10}),
    ("payment_failures", {"payment_failures_30d": 2}, {"payment_failures_30d": 1, "consecutive_payment_failures": 1}),
    ("payment_failures", {"consecutive_payment_failures": 2}, {"consecutive_payment_failures": 1}),
    (
        "payment_failures",
        {"payment_failures_30d": 0, "consecutive_payment_failures": 2},
        {"payment_failures_30d": None},
    ),
    ("chargeback", {"chargebacks_90d": 1}, {"chargebacks_90d": 0}),
    ("subscription_downgrade", {"subscription_status": "paused"}, {"subscription_status": "active"}),
    ("subscription_downgrade", {"subscription_status": "downgraded"}, {"subscription_status": "cancelled"}),
    ("subscription_cancelled", {"subscription_status": "cancelled"}, {"subscription_status": "paused"}),
    ("subscription_cancelled", {"subscription_status": "cancelled"}, {"subscription_status": None}),
    ("ticket_spike", {"tickets_opened_14d": 3}, {"tickets_opened_14d": 2}),
    ("urgent_ticket_unresolved", {"open_urgent_ticket_hours": 48.0}, {"open_urgent_ticket_hours": 47.9}),
    ("urgent_ticket_unresolved", {"open_urgent_ticket_hours": 200.5}, {"open_urgent_ticket_hours": None}),
    (
        "negative_sentiment",
        {"avg_sentiment_30d": -0.3, "sentiment_count_30d": 2},
        {"avg_sentiment_30d": -0.3, "sentiment_count_30d": 1},
    ),
    (
        "negative_sentiment",
        {"avg_sentiment_30d": -1.0, "sentiment_count_30d": 5},
        {"avg_sentiment_30d": -0.29, "sentiment_count_30d": 5},
    ),
    ("negative_sentiment", {"avg_sentiment_30d": -0.5, "sentiment_count_30d": 2}, {"avg_sentiment_30d": None}),
    ("nps_detractor", {"last_nps": 6}, {"last_nps": 7}),
    ("nps_detractor", {"last_nps": 0}, {"last_nps": None}),
]


@pytest.mark.parametrize(("rule", "fires", "holds"), CASES)
def test_every_default_rule_fires_and_does_not(rule: str, fires: dict[str, Any], holds: dict[str, Any]) -> None:
    assert fired(quiet(**fires)) == [rule]
    assert rule not in fired(quiet(**holds))


def test_a_customer_with_only_nulls_is_healthy() -> None:
    evaluation = PACK.evaluate(dict.fromkeys(SIGNAL_NAMES))
    assert (evaluation.score, evaluation.tier, evaluation.hits) == (0.0, "healthy", ())
    assert PACK.evaluate({}).tier == "healthy"


def test_reasons_read_as_sentences() -> None:
    signals = quiet(
        days_since_last_login=15.234,
        logins_total=9,
        login_trend=0.25,
        order_gap_ratio=4.5,
        orders_total=4,
        payment_failures_30d=3,
        chargebacks_90d=1,
        subscription_status="paused",
        tickets_opened_14d=4,
        open_urgent_ticket_hours=50.0,
        avg_sentiment_30d=-0.5,
        sentiment_count_30d=3,
        last_nps=2,
    )
    reasons = {h.rule: h.reason for h in PACK.evaluate(signals).hits}
    assert reasons == {
        "login_inactivity": "no login for 15.23 days (threshold 14)",
        "login_decline": "logins fell to 0.25 of their usual weekly rate (threshold 0.5)",
        "order_gap": "no order for 4.5 times the usual gap between orders (threshold 3)",
        "payment_failures": "3 failed payments (payment_failures_30d, threshold 2)",
        "chargeback": "1 chargeback(s) in 90 days (threshold 1)",
        "subscription_downgrade": "subscription is paused",
        "ticket_spike": "4 tickets opened in 14 days (threshold 3)",
        "urgent_ticket_unresolved": "an urgent ticket has been open for 50 hours (threshold 48)",
        "negative_sentiment": "average ticket sentiment -0.5 over 30 days (threshold -0.3)",
        "nps_detractor": "last NPS answer was 2 (detractor, threshold 6)",
    }


def test_payment_failures_reports_the_first_comparison_that_holds() -> None:
    (hit,) = PACK.evaluate(quiet(payment_failures_30d=4, consecutive_payment_failures=3)).hits
    assert (hit.signal, hit.value, hit.threshold) == ("payment_failures_30d", 4, 2)
    (hit,) = PACK.evaluate(quiet(payment_failures_30d=1, consecutive_payment_failures=3)).hits
    assert (hit.signal, hit.value, hit.threshold) == ("consecutive_payment_failures", 3, 2)


def test_the_contract_example_alert_rule() -> None:
    (hit,) = PACK.evaluate(quiet(days_since_last_login=15.2, logins_total=9)).hits
    assert hit.as_dict() == CONTRACT_EXAMPLE_RULE


def test_scores_and_tiers_of_the_default_pack() -> None:
    def outcome(**signals: Any) -> tuple[float, str]:
        evaluation = PACK.evaluate(quiet(**signals))
        return evaluation.score, evaluation.tier

    assert outcome(last_nps=3) == (20.0, "healthy")
    assert outcome(login_trend=0.1) == (25.0, "watch")  # exactly at the watch bound
    assert outcome(days_since_last_login=20.0, logins_total=5, login_trend=0.0) == (51.3, "at_risk")  # 51.25 half up
    assert outcome(chargebacks_90d=1, payment_failures_30d=2, last_nps=1) == (66.4, "at_risk")
    assert outcome(chargebacks_90d=1, payment_failures_30d=2, subscription_status="paused") == (70.6, "at_risk")
    assert outcome(chargebacks_90d=1, payment_failures_30d=2, subscription_status="paused", last_nps=1) == (
        76.5,
        "critical",
    )
    assert outcome(subscription_status="cancelled", last_nps=9) == (100.0, "critical")


def test_the_shop_rules_rank_by_orders_then_by_lapse() -> None:
    """One order is riskier than two, two than three or more, at the same time since the last
    order; within each, the longer the lapse the higher the score; nothing with a login this week."""

    def score(days: float, orders: int, logins_7d: int = 0) -> float:
        return PACK.evaluate(quiet(days_since_last_order=days, orders_total=orders, logins_7d=logins_7d)).score

    assert score(29.99, 1) == score(29.99, 2) == 0.0
    assert fired(quiet(days_since_last_order=30.0, orders_total=2, logins_7d=0)) == [
        "order_lapse",
        "second_order_lapse",
    ]
    assert (score(30, 1), score(30, 2), score(30, 3)) == (60.0, 50.0, 0.0)
    for days in (30, 60, 120, 200, 365, 500):
        assert score(days, 1) > score(days, 2) > score(days, 3) == score(days, 9)
    for orders in (1, 2, 3):
        assert score(31, orders) < score(100, orders) < score(364, orders) < score(365, orders) == score(400, orders)
    assert (score(365, 1), score(365, 2), score(365, 3)) == (90.0, 87.5, 75.0)
    assert score(200, 1, logins_7d=1) == score(200, 2, logins_7d=2) == 0.0
