"""The backtest: the label rule, the metrics on small hand-made cases with known answers, and
the `fit` and `backtest` commands end to end on a hand-made history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from agents.cli import offline
from agents.model_file import load_model
from rules.labels import LabelRule, activities, churn_time, churned
from rules.metrics import lift, roc_auc, roc_curve, spread, tier_table, top_precision
from streams.timefmt import format_ts
from tests.unit.helpers import DAY, login, order, payment

C = 1_583_020_800.0  # 2020-03-01T00:00:00Z, a cut-off at midnight
H = 30 * DAY


def test_label_rule() -> None:
    acts = activities(
        [
            order("gone", C - 100 * DAY, "o1"),
            order("buys", C - 10 * DAY, "o1"),
            order("buys", C + 5 * DAY, "o2"),
            login("visits", C - 50 * DAY),
            login("visits", C + 10 * DAY),
            login("failed-login", C - 5 * DAY),
            login("failed-login", C + 5 * DAY, success=False),
            order("cancels", C - 40 * DAY, "o1"),
            order("cancels", C + 2 * DAY, "o2"),
            payment("cancels", C + 3 * DAY, kind="subscription", action="cancelled"),
            order("refunded", C - 5 * DAY, "o1"),
            order("refunded", C + 1 * DAY, "o2"),
            order("refunded", C + 2 * DAY, "o2", status="refunded"),
            order("edge", C - 5 * DAY, "o1"),
            order("edge", C, "o2"),  # at the cut-off: within the horizon
            order("late", C - 5 * DAY, "o1"),
            order("late", C + H, "o2"),  # at cut-off + horizon: after it
        ]
    )
    expected = {
        "gone": True,
        "buys": False,
        "visits": False,
        "failed-login": True,
        "cancels": True,
        "refunded": True,
        "edge": False,
        "late": True,
    }
    assert {cid: churned(act, C, H) for cid, act in acts.items()} == expected
    assert churned(acts["visits"], C, H, LabelRule(logins=False)) is True  # only orders count then
    assert churned(acts["cancels"], C, H, LabelRule(cancellation=False)) is False
    assert churn_time(acts["cancels"], C, H) == C + 3 * DAY
    assert churn_time(acts["gone"], C, H) == C - 100 * DAY
    assert "no order and no successful login" in LabelRule().describe()


def test_auc_with_ties_and_the_roc_curve() -> None:
    assert roc_auc([100, 10, 50, 40], [True, False, False, True]) == 0.75
    assert roc_auc([1, 1, 1, 1], [True, False, True, False]) == 0.5  # all tied: a coin
    assert roc_auc([3, 2, 2, 1], [True, True, False, False]) == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert roc_auc([1, 2], [True, True]) is None
    assert roc_curve([3, 2, 2, 1], [True, True, False, False]) == [(0, 0), (0, 0.5), (0.5, 1.0), (1.0, 1.0)]


def test_top_precision_lift_tiers_and_spread() -> None:
    scores = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    labels = [True, True, False, True, False, False, False, False, True, False]
    assert top_precision(scores, labels, 0.1) == 1.0
    assert top_precision(scores, labels, 0.3) == pytest.approx(2 / 3)
    # a cut inside a tie takes the tie's churn share: top 10% of [5, 5] with one churner is 0.5
    assert top_precision([5, 5, 1, 1, 1, 1, 1, 1, 1, 1], labels[:2] + [False] * 7 + [True], 0.1) == 1.0
    assert top_precision([5, 5, 1, 1, 1, 1, 1, 1, 1, 1], [True, False, *[False] * 8], 0.1) == 0.5
    assert lift(2 / 3, 0.4) == pytest.approx(5 / 3)
    table = tier_table(
        ["watch", "healthy", "watch", "critical"], [True, False, False, True], ["healthy", "watch", "critical"]
    )
    assert table["watch"] == {"customers": 2, "churners": 1, "precision": 0.5, "recall": 0.5}
    assert table["critical"]["precision"] == 1.0 and table["healthy"]["recall"] == 0.0
    assert spread([-30.0, 13.0]) == {"count": 2, "median": -8.5, "p25": -19.25, "p75": 2.25, "share_non_negative": 0.5}


PACK = """version: 1
tiers: {watch: 25, at_risk: 50, critical: 75}
rules:
  - {id: lapse, weight: %s, signal: days_since_last_order, op: ">=", threshold: 30}
"""


def _history(tmp_path: Path) -> Path:
    events = [
        {"type": "order", "event_id": "a1", "customer_id": "a", "ts": C - 100 * DAY, "order_id": "1", "amount": 10},
        {"type": "order", "event_id": "b1", "customer_id": "b", "ts": C - 10 * DAY, "order_id": "1", "amount": 10},
        {"type": "order", "event_id": "b2", "customer_id": "b", "ts": C + 5 * DAY, "order_id": "2", "amount": 10},
        {"type": "login", "event_id": "c1", "customer_id": "c", "ts": C - 50 * DAY},
        {"type": "login", "event_id": "c2", "customer_id": "c", "ts": C + 10 * DAY},
        {"type": "order", "event_id": "d1", "customer_id": "d", "ts": C - 40 * DAY, "order_id": "1", "amount": 10},
        {
            "type": "payment",
            "event_id": "d2",
            "customer_id": "d",
            "ts": C + 3 * DAY,
            "kind": "subscription",
            "action": "cancelled",
        },
        {"type": "order", "event_id": "e1", "customer_id": "e", "ts": C + 1 * DAY, "order_id": "1", "amount": 10},
    ]
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e | {"ts": format_ts(e["ts"])}) + b"\n" for e in events))
    return path


def _backtest(tmp_path: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    out = tmp_path / "result.json"
    runner = CliRunner()
    result = runner.invoke(
        offline,
        ["backtest", "--cutoff", "2020-03-01", "--horizon", "30", "--json", str(out), *args],
    )
    return result, orjson.loads(out.read_bytes()) if out.exists() else {}


def test_backtest_known_answers(tmp_path: Path) -> None:
    history = _history(tmp_path)
    strong, weak = tmp_path / "strong.yaml", tmp_path / "weak.yaml"
    strong.write_text(PACK % 50)
    weak.write_text(PACK % 20)
    picture = tmp_path / "out.png"
    result, doc = _backtest(
        tmp_path,
        str(history),
        "--rules",
        str(strong),
        "--rules",
        str(weak),
        "--baseline",
        "recency",
        "--plot",
        str(picture),
    )
    assert result.exit_code == 0, result.output
    entry = doc["results"][0]
    # known at the cut-off: a, b, c, d (e starts after it); churned: a (silent), d (cancelled)
    assert (entry["customers"], entry["churners"], entry["base_rate"]) == (4, 2, 0.5)
    pack, base = entry["rankers"]["strong"], entry["rankers"]["recency"]
    assert pack["auc"] == 1.0 and base["auc"] == 0.75  # recency: a 100, d 40 vs b 10, c 50 days
    assert pack["top_10pct"] == {"precision": 1.0, "lift": 2.0}
    assert pack["tiers"]["at_risk"] == {"customers": 2, "churners": 2, "precision": 1.0, "recall": 1.0}
    # a: alert at its 30th day without an order (C - 70 d), lost at its last order (C - 100 d): -30;
    # d: alert at C - 10 d, cancelled at C + 3 d: 13 days ahead
    assert pack["lead_time_days"]["count"] == 2 and pack["lead_time_days"]["median"] == -8.5
    assert pack["alerts_per_1000"] == 250.0  # d's alert is the only one in the 30 days before the cut-off
    assert doc["tier_changes"][0]["moves"] == {"at_risk -> healthy": 2}
    assert "| ROC AUC | 1.0000 | 1.0000 | 0.7500 |" in result.output
    assert picture.stat().st_size > 10_000
    # the history ends 10 days after the cut-off, before the 30-day horizon does: said, not hidden
    assert len(doc["warnings"]) == 1 and "count as churned" in doc["warnings"][0]
    assert "backtest: warning: the horizon after cut-off 2020-03-01" in result.stderr


def test_fit_then_backtest_with_the_model_and_bad_lines(tmp_path: Path) -> None:
    lines = []
    for c in range(60):
        for k in range(1 + c % 4):
            ts = C - (300 - 40 * k - c) * DAY
            lines.append(
                {
                    "type": "order",
                    "event_id": f"{c}-{k}",
                    "customer_id": f"c{c}",
                    "ts": ts,
                    "order_id": str(k),
                    "amount": 5,
                }
            )
    history = tmp_path / "h.jsonl"
    history.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in lines) + b"not json\n")
    model_file = tmp_path / "m.yaml"
    runner = CliRunner()
    fitted = runner.invoke(offline, ["fit", str(history), "--until", "2020-03-01", "--out", str(model_file)])
    assert fitted.exit_code == 1  # one bad line, reported as replay reports it
    assert f"{history}:{len(lines) + 1}: invalid_json" in fitted.output
    assert "log-likelihood = " in fitted.output and "r = " in fitted.output
    model = load_model(model_file)
    assert model.kind == "mbgnbd" and model.customers == 60

    pack = tmp_path / "p.yaml"
    pack.write_text(
        PACK % 30 + '  - {id: dead, weight: 40, signal: p_alive, op: "<=", threshold: 0.5, graded: {full_at: 0}}\n'
    )
    result, doc = _backtest(
        tmp_path, str(history), "--rules", str(pack), "--model", str(model_file), "--also-without-model"
    )
    assert result.exit_code == 1 and "invalid_json" in result.output
    assert [r["name"] for r in doc["rankers"]] == ["p+model", "p"]
    assert doc["bad_lines"] == 1 and doc["results"][0]["customers"] == 60

    pareto_file = tmp_path / "pareto.yaml"
    fitted = runner.invoke(
        offline, ["fit", str(history), "--until", "2020-03-01", "--kind", "paretonbd", "--out", str(pareto_file)]
    )
    assert "s = " in fitted.output and "beta = " in fitted.output
    pareto = load_model(pareto_file)
    assert pareto.kind == "paretonbd" and pareto.customers == 60
    result, doc = _backtest(
        tmp_path, str(history), "--rules", str(pack), "--model", str(pareto_file), "--baseline", "paretonbd"
    )
    assert [r["name"] for r in doc["rankers"]] == ["p+model", "paretonbd"]
    assert doc["rankers"][0]["model"] == "paretonbd" and "paretonbd" in doc["results"][0]["rankers"]


def test_usage_errors(tmp_path: Path) -> None:
    history = _history(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(
        offline,
        ["backtest", str(history), "--cutoff", "2020-03-01", "--horizon", "30", "--model", str(tmp_path / "none.yaml")],
    )
    assert missing.exit_code == 2 and "cannot read the model file" in missing.output
    bad_date = runner.invoke(offline, ["backtest", str(history), "--cutoff", "March", "--horizon", "30"])
    assert bad_date.exit_code == 2 and "is not a date" in bad_date.output
    nothing = runner.invoke(offline, ["fit", str(history), "--out", str(tmp_path / "m.yaml"), "--until", "2019-01-01"])
    assert nothing.exit_code == 2 and "at least 2 customers" in nothing.output


def test_replay_takes_the_model(tmp_path: Path) -> None:
    history = _history(tmp_path)
    model_file = tmp_path / "m.yaml"
    model_file.write_text("version: 1\nkind: mbgnbd\ntime_unit: day\nparams: {r: 0.5, alpha: 40, a: 0.9, b: 1.6}\n")
    out = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(offline, ["replay", str(history), "--model", str(model_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert any(a["signals"]["p_alive"] is not None for a in alerts)
    assert any(r["rule"] == "low_expected_orders" for a in alerts for r in a["rules"])


def test_cdnow_rows_of_one_customer_and_day_are_one_order(tmp_path: Path) -> None:
    from agents.cdnow import cdnow_events
    from streams.parse import parse_line

    sample = tmp_path / "CDNOW_sample.txt"
    sample.write_text(
        " 00004 0001 19970101  2   29.33\n 00004 0001 19970101  1   10.00\n 00004 0001 19970118  2   29.73\n\n"
        " 00021 0002 19970101  3   63.34\n"
    )
    events = list(cdnow_events(sample))
    assert [(e["customer_id"], e["ts"], e["amount"]) for e in events] == [
        ("00004", "1997-01-01T00:00:00Z", 39.33),
        ("00004", "1997-01-18T00:00:00Z", 29.73),
        ("00021", "1997-01-01T00:00:00Z", 63.34),
    ]
    assert all(parse_line(orjson.dumps(e)).customer_id == e["customer_id"] for e in events)


def _cdnow_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny master file (header, 4 columns) and a sample of two of its customers (5 columns)."""
    master = tmp_path / "CDNOW_master.txt"
    master.write_text(
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n"
        " 00002 19970112  1   12.00\n 00002 19970112  5   77.00\n"
        " 00003 19970102  2   20.76\n 00003 19970330  2   20.76\n"
        " 00004 19970101  2   29.33\n 00004 19970118  2   29.73\n"
        " 00005 19970101  2   29.33\n\n"
    )
    sample = tmp_path / "CDNOW_sample.txt"
    sample.write_text(
        " 00003 0001 19970102  2   20.76\n 00003 0001 19970330  2   20.76\n 00005 0002 19970101  2   29.33\n"
    )
    return master, sample


def test_cdnow_master_outside_the_sample_is_master_minus_sample_ids(tmp_path: Path) -> None:
    from agents.cdnow import cdnow_events, events_from_rows, outside_sample, read_rows

    master, sample = _cdnow_pair(tmp_path)
    kept = outside_sample(master, sample)
    assert set(kept) == set(read_rows(master)) - set(read_rows(sample)) == {"00001", "00002", "00004"}
    assert kept["00002"] == [("19970112", 1, 12.0), ("19970112", 5, 77.0)]
    events = list(events_from_rows(kept))
    assert [(e["customer_id"], e["ts"][:10], e["amount"]) for e in events] == [
        ("00001", "1997-01-01", 11.77),
        ("00002", "1997-01-12", 89.0),  # one order per customer and day, as for the sample
        ("00004", "1997-01-01", 29.33),
        ("00004", "1997-01-18", 29.73),
    ]
    assert events == list(cdnow_events(master, exclude={"00003", "00005"}))
    # the sample's customers read from either file give the same events
    assert list(cdnow_events(sample)) == list(cdnow_events(master, exclude=set(kept)))


def test_cdnow_sample_ids_must_carry_their_lines_in_the_master(tmp_path: Path) -> None:
    from agents.cdnow import outside_sample

    master, sample = _cdnow_pair(tmp_path)
    sample.write_text(" 00003 0001 19970102  2   20.76\n 00005 0002 19970101  2   29.33\n")  # a line missing
    with pytest.raises(ValueError, match="00003"):
        outside_sample(master, sample)
    sample.write_text(" 00009 0001 19970102  2   20.76\n")  # an id the master does not have
    with pytest.raises(ValueError, match="00009"):
        outside_sample(master, sample)


def test_evaluate_master_part_counts_what_it_read(tmp_path: Path) -> None:
    from bench.evaluate import master_events

    master, sample = _cdnow_pair(tmp_path)
    path, info = master_events(master, sample, tmp_path)
    assert info["master_customers"] == 5 and info["sample_customers"] == 2 and info["customers"] == 3
    assert info["lines"] == 5 and info["orders"] == 4
    assert {orjson.loads(line)["customer_id"] for line in path.read_bytes().splitlines()} == {"00001", "00002", "00004"}


def test_several_cutoffs_and_json_on_stdout(tmp_path: Path) -> None:
    history = _history(tmp_path)
    result = CliRunner().invoke(
        offline,
        [
            "backtest",
            str(history),
            "--cutoff",
            "2020-02-01,2020-03-01",
            "--cutoff",
            "2020-03-01",
            "--horizon",
            "30",
            "--baseline",
            "recency",
            "--json",
            "-",
        ],
    )
    assert result.exit_code == 0
    doc = orjson.loads(result.stdout)
    assert [e["cutoff"] for e in doc["results"]] == ["2020-02-01T00:00:00Z", "2020-03-01T00:00:00Z", "overall"]
    # pooled: a, c, d known at 02-01 (all three silent until 03-02) and a, b, c, d at 03-01
    overall = doc["results"][-1]
    assert (overall["customers"], overall["churners"]) == (7, 5)
    assert overall["rankers"]["recency"]["auc"] is not None


def test_a_cutoff_before_any_event_reports_nothing_to_measure(tmp_path: Path) -> None:
    result, doc = _backtest(tmp_path, str(_history(tmp_path)), "--baseline", "bgnbd", "--cutoff", "2019-01-01")
    assert result.exit_code == 0, result.output
    empty = doc["results"][0]
    assert (empty["customers"], empty["rankers"]["bgnbd"]["auc"]) == (0, None)


def test_proposed_factors_follow_the_labels() -> None:
    from rules.propose import propose_factors, scale_weight

    rng = __import__("random").Random(1)
    hits, labels = [], []
    for _ in range(400):
        churns = rng.random() < 0.5
        row = {}
        if rng.random() < (0.8 if churns else 0.2):
            row["telling"] = 30.0
        if rng.random() < 0.5:
            row["noise"] = 30.0
        hits.append(row)
        labels.append(churns)
    hits.append({"rare": 50.0})
    labels.append(True)
    factors = propose_factors(hits, labels)
    assert set(factors) == {"telling", "noise"}  # "rare" fired once: it keeps its weight
    assert factors["telling"] > 2 and factors["noise"] < 0.5
    assert scale_weight(30, 1.0) == 30.0 and scale_weight(30, 2.0) == 51.0 and scale_weight(30, 0.0) == 0.0
    assert scale_weight(90, 5.0) == 99.0  # never 100: no rule decides alone


def test_fit_proposes_a_pack_that_checks(tmp_path: Path) -> None:
    lines = []
    for c in range(80):
        ts = C - (200 - c) * DAY
        lines.append({"type": "order", "event_id": f"{c}-0", "customer_id": f"c{c}", "ts": ts, "order_id": "0"})
        if c % 2:  # the odd ones come back after the cut-off
            lines.append(
                {"type": "order", "event_id": f"{c}-1", "customer_id": f"c{c}", "ts": C + 5 * DAY, "order_id": "1"}
            )
        if c % 3 == 0:
            lines.append(
                {"type": "order", "event_id": f"{c}-2", "customer_id": f"c{c}", "ts": ts + 20 * DAY, "order_id": "2"}
            )
    history = tmp_path / "h.jsonl"
    history.write_bytes(b"".join(orjson.dumps(e | {"amount": 5}) + b"\n" for e in lines))
    proposed = tmp_path / "proposed.yaml"
    runner = CliRunner()
    args = ["fit", str(history), "--out", str(tmp_path / "m.yaml"), "--until", "2020-03-01", "--propose", str(proposed)]
    assert runner.invoke(offline, args).exit_code == 2  # --propose needs --horizon too
    result = runner.invoke(offline, [*args, "--horizon", "30"])
    assert result.exit_code == 0, result.output
    assert "first_order_lapse" in result.output and "proposed weights" in result.output
    text = proposed.read_text()
    assert text.startswith("# Proposed by `churnwatch fit --propose` from 80 customers")
    assert runner.invoke(offline, ["rules", "check", str(proposed)]).exit_code == 0


def test_paired_bootstrap_of_an_auc_difference() -> None:
    """The evaluation's interval for AUC(a) − AUC(b): the difference on the customers themselves,
    zero for a ranker against itself, and an interval that holds it, from the same resamples."""
    import numpy as np

    from bench.evaluate import _auc, paired_bootstrap

    rng = np.random.default_rng(1)
    labels = rng.random(300) < 0.6
    good = labels + rng.normal(0, 0.8, 300)
    noisy = labels + rng.normal(0, 2.0, 300)
    tied = np.round(good)  # few distinct values: ties count half, as in rules.metrics
    assert _auc(tied, labels) == pytest.approx(roc_auc(list(tied), list(labels)))
    same = paired_bootstrap(good, good, labels, 200, seed=0)
    assert same["diff"] == 0 and same["ci95"] == [0, 0] and same["sd"] == 0
    out = paired_bootstrap(good, noisy, labels, 400, seed=0)
    assert out["diff"] == pytest.approx(_auc(good, labels) - _auc(noisy, labels), abs=1e-4)
    assert out["ci95"][0] < out["diff"] < out["ci95"][1] and out["sd"] > 0 and out["rounds"] == 400
    assert paired_bootstrap(good, noisy, labels, 400, seed=0) == out  # seeded: the same every run
