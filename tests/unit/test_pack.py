"""The rule pack format: comparisons, `any`, `when` and `expr` conditions, nulls, numbers, scoring."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from agents.cli import offline
from agents.pack_file import load_pack
from rules.expressions import as_doubles, compile_condition
from rules.pack import DEFAULT_PACK, KNOWN_SIGNALS, PackError, RulePack, parse_pack
from rules.pack.native import evaluate_steps
from rules.scoring import Tiers, risk_score
from rules.signals import SIGNAL_NAMES, SIGNAL_TYPES, SLOTS
from tests.unit.helpers import HEAD, pack_of


def fired(pack: RulePack, **signals: Any) -> list[tuple[str, str, Any]]:
    return [(h.rule, h.signal, h.value) for h in pack.evaluate(signals).hits]


def test_known_signals_are_the_engine_signals() -> None:
    assert KNOWN_SIGNALS == SIGNAL_NAMES
    assert {"logins_total", "orders_total", "sentiment_count_30d", "customer_value", "login_trend"} <= KNOWN_SIGNALS


@pytest.mark.parametrize(
    ("op", "threshold", "fires", "holds"),
    [
        (">=", 5, [5, 5.0, 7.5], [4, 4.99]),
        (">", 5, [5.01, 6], [5, 4]),
        ("<=", -0.3, [-0.3, -1], [-0.29, 0]),
        ("<", 2, [1.99, 0], [2, 2.0]),
        ("==", 0, [0, 0.0], [1, 0.5]),
        ("!=", 0, [1, 0.5], [0, 0.0]),
        ("in", "[1, 2]", [1, 2.0], [3]),
        ("not_in", "[1, 2]", [3, 0], [1, 2]),
    ],
)
def test_each_op_on_numbers(op: str, threshold: Any, fires: list[Any], holds: list[Any]) -> None:
    pack = pack_of(f"  - {{id: r, weight: 10, signal: last_nps, op: '{op}', threshold: {threshold}}}\n")
    for value in fires:
        assert fired(pack, last_nps=value) == [("r", "last_nps", value)], value
    for value in [*holds, None]:
        assert fired(pack, last_nps=value) == [], value
    assert fired(pack) == []  # a missing signal is null


def test_string_ops() -> None:
    pack = pack_of(
        "  - {id: a, weight: 10, signal: subscription_status, op: '!=', threshold: active}\n"
        "  - {id: b, weight: 10, signal: subscription_status, op: not_in, threshold: [active, none]}\n"
    )
    assert [r for r, _, _ in fired(pack, subscription_status="paused")] == ["a", "b"]
    assert fired(pack, subscription_status="active") == []
    assert fired(pack, subscription_status=None) == []


def test_any_reports_the_first_comparison_that_holds_and_the_guard_applies_to_all() -> None:
    pack = pack_of(
        "  - id: pay\n    weight: 30\n    when: 'orders_total >= 1'\n    any:\n"
        "      - {signal: payment_failures_30d, op: '>=', threshold: 2}\n"
        "      - {signal: consecutive_payment_failures, op: '>=', threshold: 2}\n"
        "      - {signal: chargebacks_90d, op: '>=', threshold: 1}\n"
    )
    assert fired(pack, payment_failures_30d=1, consecutive_payment_failures=2, chargebacks_90d=3, orders_total=1) == [
        ("pay", "consecutive_payment_failures", 2)
    ]
    assert fired(pack, payment_failures_30d=None, chargebacks_90d=1, orders_total=5) == [("pay", "chargebacks_90d", 1)]
    assert fired(pack, payment_failures_30d=5, orders_total=0) == []
    assert fired(pack, payment_failures_30d=5, orders_total=None) == []


def test_when_guard_is_checked_only_with_its_comparison_and_null_is_false() -> None:
    pack = pack_of(
        "  - {id: r, weight: 35, signal: days_since_last_login, op: '>=', threshold: 14, when: 'logins_total >= 3'}\n"
    )
    assert fired(pack, days_since_last_login=14.0, logins_total=3) == [("r", "days_since_last_login", 14.0)]
    assert fired(pack, days_since_last_login=14.0, logins_total=2) == []
    assert fired(pack, days_since_last_login=14.0, logins_total=None) == []
    assert fired(pack, days_since_last_login=14.0) == []
    assert fired(pack, days_since_last_login=1.0, logins_total=30) == []


def test_expr_rules_fire_on_the_whole_condition_and_explain_with_signal_and_threshold() -> None:
    pack = pack_of(
        "  - id: silent_big_spender\n    weight: 40\n"
        "    expr: 'days_since_last_order >= 30 && order_value_90d > 500 && subscription_status != \"cancelled\"'\n"
        "    signal: days_since_last_order\n    threshold: 30\n"
        "    when: 'orders_total >= 3'\n"
        "    reason: 'a big spender silent for {value} days (threshold {threshold})'\n"
    )
    signals = {
        "days_since_last_order": 31.5,
        "order_value_90d": 900.0,
        "subscription_status": "active",
        "orders_total": 4,
    }
    (hit,) = pack.evaluate(signals).hits
    assert hit.as_dict() == {
        "rule": "silent_big_spender",
        "weight": 40,
        "signal": "days_since_last_order",
        "value": 31.5,
        "threshold": 30,
        "reason": "a big spender silent for 31.5 days (threshold 30)",
    }
    assert pack.evaluate(signals | {"orders_total": 2}).hits == ()  # the when guard
    assert pack.evaluate(signals | {"order_value_90d": 100.0}).hits == ()
    assert pack.evaluate(signals | {"order_value_90d": None}).hits == ()  # null in the expr: false
    assert pack.evaluate(signals | {"subscription_status": "cancelled"}).hits == ()
    assert pack.rules[0].describe().startswith("expr days_since_last_order >= 30")


def test_numbers_in_expressions_are_doubles_whatever_the_signal_holds() -> None:
    pack = pack_of(
        "  - {id: weekly, weight: 10, expr: 'days_since_last_login / 7 > 2', signal: days_since_last_login,"
        " threshold: 14}\n"
        "  - {id: twice, weight: 10, expr: 'logins_total * 2 >= 6', signal: logins_total, threshold: 3}\n"
        "  - {id: mixed, weight: 10, expr: 'logins_7d + 0.5 < 1', signal: logins_7d, threshold: 0}\n"
    )
    for value in (15, 15.0, 14.5):
        assert [r for r, _, _ in fired(pack, days_since_last_login=value)] == ["weekly"], value
    assert fired(pack, days_since_last_login=14) == []
    assert [r for r, _, _ in fired(pack, logins_total=3)] == ["twice"]  # int signal, int literal
    assert [r for r, _, _ in fired(pack, logins_total=3.0)] == ["twice"]
    assert fired(pack, logins_total=2) == []
    assert [r for r, _, _ in fired(pack, logins_7d=0)] == ["mixed"]


def test_integer_literals_become_doubles_only_outside_strings_and_names() -> None:
    assert as_doubles("x >= 3 && logins_7d < 10") == "x >= 3.0 && logins_7d < 10.0"
    assert as_doubles("x >= 1.5 && y < 1e3 && z == 3u && w == 0x1F") == "x >= 1.5 && y < 1e3 && z == 3u && w == 0x1F"
    assert (
        as_doubles("s == '3' || s in [\"4\", '''5'''] || x == -2") == "s == '3' || s in [\"4\", '''5'''] || x == -2.0"
    )
    guard = compile_condition("subscription_status == 'x2' || last_nps <= 6", SIGNAL_NAMES, SIGNAL_TYPES)
    assert guard.holds({"subscription_status": "x2", "last_nps": 9})
    assert guard.holds({"subscription_status": "active", "last_nps": 6})
    assert not guard.holds({"subscription_status": "active", "last_nps": 7})
    assert not guard.holds({"subscription_status": None, "last_nps": 1})  # null anywhere: false


def test_a_signal_of_the_wrong_type_does_not_fire_and_does_not_raise() -> None:
    pack = load_pack()
    evaluation = pack.evaluate({"last_nps": "six", "days_since_last_login": [1], "subscription_status": 3})
    assert evaluation.hits == ()
    evaluation = pack.evaluate({"last_nps": "six", "chargebacks_90d": 2})
    assert [h.rule for h in evaluation.hits] == ["chargeback"]


def test_score_and_tiers() -> None:
    assert risk_score([]) == 0.0
    assert risk_score([35]) == 35.0
    assert risk_score([35, 25]) == 51.3  # 100 x (1 - 0.65 x 0.75) = 51.25, rounded half up
    assert risk_score([25, 25, 25]) == 57.8  # 57.8125
    assert risk_score([100, 20]) == 100.0
    assert risk_score([0, 0]) == 0.0
    assert risk_score([30, 20, 10]) == risk_score([10, 30, 20])
    tiers = Tiers()
    scores = (0, 24.9, 25, 49.9, 50, 74.9, 75, 100)
    assert [tiers.tier(s) for s in scores] == ["healthy"] * 2 + ["watch"] * 2 + ["at_risk"] * 2 + ["critical"] * 2


def test_tiers_come_from_the_pack() -> None:
    pack, problems = parse_pack(
        "version: 1\ntiers: {watch: 10, at_risk: 20, critical: 30}\nrules:\n"
        "  - {id: a, weight: 20, signal: last_nps, op: '<=', threshold: 6}\n",
        "t.yaml",
    )
    assert pack is not None and not problems
    assert pack.evaluate({"last_nps": 1}).tier == "at_risk"
    assert pack.evaluate({"last_nps": 9}).tier == "healthy"


def test_weight_zero_fires_without_score() -> None:
    pack = pack_of("  - {id: note, weight: 0, signal: last_nps, op: '<=', threshold: 6}\n")
    evaluation = pack.evaluate({"last_nps": 3})
    assert [h.rule for h in evaluation.hits] == ["note"] and evaluation.score == 0.0


def test_loading_is_pure_and_repeatable() -> None:
    a, b = load_pack(), load_pack(DEFAULT_PACK)
    assert [r.id for r in a.rules] == [r.id for r in b.rules] and a.tiers == b.tiers
    signals = {"days_since_last_login": 20.0, "logins_total": 4, "last_nps": 2}
    assert a.evaluate(signals) == b.evaluate(signals)


SIGNAL_VALUES = st.one_of(
    st.none(),
    st.integers(-5, 60),
    st.floats(-2, 300, allow_nan=False),
    st.integers(2**53 - 2, 2**53 + 2),  # beyond it an int is no exact double (the native loop's edge)
    st.just(math.nan),
    st.sampled_from(["none", "active", "paused", "downgraded", "cancelled"]),
)


@given(st.dictionaries(st.sampled_from(sorted(SIGNAL_NAMES)), SIGNAL_VALUES, max_size=len(SIGNAL_NAMES)))
def test_the_generated_fast_path_agrees_with_the_reference_loop(signals: dict[str, Any]) -> None:
    pack = PACK_WITH_EVERYTHING
    evaluation = pack.evaluate(signals)
    hits: list[Any] = []
    remaining = pack._evaluate(signals, hits)
    assert list(evaluation.hits) == hits
    values = [signals.get(name) for name in SLOTS]  # the engine's list
    assert pack.evaluate_values(values) == evaluation
    # the compiled core's loop (run here as Python), with and without the dict
    for guard_reads in (signals, None):
        native_remaining, native = evaluate_steps(pack._steps, values, guard_reads)
        assert native_remaining == remaining and (native or []) == hits


PACK_WITH_EVERYTHING = load_pack()
_extra = pack_of(
    "  - {id: x1, weight: 15, signal: subscription_status, op: not_in, threshold: [active, none]}\n"
    "  - {id: x2, weight: 15, expr: 'logins_7d == 0 && days_since_last_login >= 10', "
    "signal: days_since_last_login, threshold: 10}\n"
    "  - id: x3\n    weight: 5\n    when: 'orders_total > 1'\n    any:\n"
    "      - {signal: orders_90d, op: '<', threshold: 1}\n"
    "      - {signal: order_value_90d, op: '<', threshold: 50}\n"
)
PACK_WITH_EVERYTHING = RulePack(PACK_WITH_EVERYTHING.rules + _extra.rules, PACK_WITH_EVERYTHING.tiers)


def test_pack_error_lists_problems() -> None:
    with pytest.raises(PackError) as info:
        load_pack(Path("/nonexistent/pack.yaml"))
    assert "cannot read the file" in str(info.value)


BAD_PACK = HEAD + "  - {id: a, weight: 20, signal: no_such_signal, op: '>=', threshold: 1}\n"


def test_rules_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(offline, ["rules", "check", str(DEFAULT_PACK)])
    assert ok.exit_code == 0 and "15 rules" in ok.output
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_PACK)
    bad = runner.invoke(offline, ["rules", "check", str(path)])
    assert bad.exit_code == 1
    assert f"{path}:4: rule 'a': unknown signal 'no_such_signal'" in bad.output


def test_a_long_any_list_falls_back_to_the_generic_loop() -> None:
    items = "".join(f"      - {{signal: last_nps, op: '==', threshold: {n}}}\n" for n in range(14))
    pack = pack_of(f"  - id: many\n    weight: 10\n    any:\n{items}")
    assert pack._fast is None
    assert fired(pack, last_nps=13) == [("many", "last_nps", 13)]
    assert fired(pack, last_nps=14) == []


def test_graded_rules_grow_by_steps_and_show_their_weight() -> None:
    pack = pack_of(
        "  - {id: lapse, weight: 80, signal: days_since_last_order, op: '>=', threshold: 30,\n"
        "     graded: {full_at: 130, step: 10, min_weight: 20}, reason: 'weight {weight} at {value}'}\n"
        "  - {id: low, weight: 50, signal: p_alive, op: '<=', threshold: 0.5, graded: {full_at: 0}}\n"
    )
    weight = {v: pack.evaluate({"days_since_last_order": v}).hits[0].weight for v in (30, 39.9, 40, 85, 130, 500)}
    assert weight == {30: 20.0, 39.9: 20.0, 40: 26.0, 85: 50.0, 130: 80.0, 500: 80.0}
    hit = pack.evaluate({"days_since_last_order": 85.0}).hits[0]
    assert hit.as_dict()["reason"] == "weight 50 at 85" and hit.as_dict()["weight"] == 50
    assert pack.evaluate({"days_since_last_order": 29.9}).hits == ()
    assert pack.evaluate({"p_alive": 0.25}).score == 25.0  # halfway from 0.5 down to 0, in hundredths
    assert pack.evaluate({"p_alive": 0.25, "days_since_last_order": 130}).score == risk_score([25, 80])
    hits: list[Any] = []
    pack._evaluate({"p_alive": 0.1, "days_since_last_order": 77}, hits)
    assert list(pack.evaluate({"p_alive": 0.1, "days_since_last_order": 77}).hits) == hits
    assert "graded: 20 at 30 to 80 at 130" in pack.rules[0].describe()


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (
            "{id: g, weight: 50, signal: p_alive, op: '<=', threshold: 0.5, graded: {full_at: 0.9}}",
            "full_at must be below",
        ),
        (
            "{id: g, weight: 50, signal: orders_90d, op: '>=', threshold: 2, graded: {full_at: 5, step: 0}}",
            "step must be",
        ),
        (
            "{id: g, weight: 50, signal: orders_90d, op: '>=', threshold: 2, graded: {full_at: 5, min_weight: 60}}",
            "min_weight must be",
        ),
        (
            "{id: g, weight: 50, signal: orders_90d, op: '==', threshold: 2, graded: {full_at: 5}}",
            "needs one comparison",
        ),
        ("{id: g, weight: 50, signal: orders_90d, op: '>=', threshold: 2, graded: {upto: 5}}", "unknown key 'upto'"),
        ("{id: g, weight: 50, signal: orders_90d, op: '>=', threshold: 2, graded: 5}", "must be a mapping"),
    ],
)
def test_graded_rule_problems(rule: str, reason: str) -> None:
    pack, problems = parse_pack(HEAD + f"  - {rule}\n", "test.yaml")
    assert pack is None and any(reason in p.reason for p in problems), problems
