"""The buying model: its likelihood against a direct integration, the fit recovering known
parameters, and the online model signals (from a customer's state) against the offline fit."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pytest
from scipy import integrate, special, stats

from agents.model_file import ModelError, dump_model, parse_model
from agents.pack_file import load_pack
from rules.engine import Engine, EngineConfig
from rules.fit import fit, histories, log_likelihood, visit_histories
from rules.model import BuyingModel, expected_orders, p_alive, p_order_within
from streams.parse import parse_line
from streams.simulate import SimConfig, generate
from tests.unit.helpers import DAY, T0, order, payment

MODEL = BuyingModel("mbgnbd", r=0.5, alpha=40.0, a=0.9, b=1.6)


def _direct_likelihood(kind: str, m: BuyingModel, x: int, t_x: float, T: float) -> float:
    """The individual likelihood averaged over p ~ Beta(a, b) (in closed form: E[p^j (1-p)^k] =
    B(a+j, b+k) / B(a, b)) and over λ ~ Gamma(r, α) by numerical integration."""

    def moment(j: int, k: int) -> float:
        return float(special.beta(m.a + j, m.b + k) / special.beta(m.a, m.b))

    if kind == "mbgnbd":  # a drop-out chance after every order, the first included
        alive, dropped = moment(0, x + 1), moment(1, x)
    else:  # BG/NBD: only after repeat orders
        alive, dropped = moment(0, x), (moment(1, x - 1) if x > 0 else 0.0)

    def integrand(lam: float) -> float:
        density = stats.gamma.pdf(lam, m.r, scale=1 / m.alpha)
        return float((alive * math.exp(-lam * T) + dropped * math.exp(-lam * t_x)) * lam**x * density)

    value, _err = integrate.quad(integrand, 0, np.inf, epsabs=1e-14, limit=200)
    return value


@pytest.mark.parametrize("kind", ["mbgnbd", "bgnbd"])
@pytest.mark.parametrize("history", [(0, 0.0, 120.0), (2, 30.0, 90.0), (4, 200.0, 210.0)])
def test_log_likelihood_matches_direct_integration(kind: str, history: tuple[int, float, float]) -> None:
    m = BuyingModel(kind, 1.3, 20.0, 0.9, 1.6)
    x, t_x, T = history
    closed = log_likelihood(kind, (m.r, m.alpha, m.a, m.b), np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert closed == pytest.approx(math.log(_direct_likelihood(kind, m, x, t_x, T)), abs=1e-4)


def test_one_time_buyers_can_lapse_in_mbgnbd_not_in_bgnbd() -> None:
    early, late = (0, 0.0, 10.0), (0, 0.0, 300.0)
    assert p_alive(MODEL, late) < p_alive(MODEL, early) < 1.0
    bg = BuyingModel("bgnbd", MODEL.r, MODEL.alpha, MODEL.a, MODEL.b)
    assert p_alive(bg, late) == 1.0
    # and the longer a repeat buyer has been silent, the less alive and the fewer orders expected
    assert p_alive(MODEL, (3, 50.0, 300.0)) < p_alive(MODEL, (3, 50.0, 60.0))
    assert expected_orders(MODEL, (3, 50.0, 300.0), 90) < expected_orders(MODEL, (3, 50.0, 60.0), 90)
    assert 0 < p_order_within(MODEL, (3, 50.0, 300.0), 90) < p_alive(MODEL, (3, 50.0, 300.0))


def _simulate(m: BuyingModel, customers: int, T: float, seed: int) -> list[tuple[int, float, float]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(customers):
        lam, p = rng.gamma(m.r, 1 / m.alpha), rng.beta(m.a, m.b)
        t, last, x = 0.0, 0.0, 0
        while rng.random() >= p:  # survives the order just made
            t += rng.exponential(1 / lam)
            if t > T:
                break
            last, x = t, x + 1
        out.append((x, float(math.floor(last)), T))
    return out


def test_fit_recovers_the_parameters_of_simulated_customers() -> None:
    truth = BuyingModel("mbgnbd", r=0.6, alpha=30.0, a=0.8, b=2.5)
    fitted = fit(_simulate(truth, 4000, 365.0, seed=3), "mbgnbd")
    assert fitted.r == pytest.approx(truth.r, rel=0.25)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.35)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(truth.a / (truth.a + truth.b), rel=0.25)
    assert fitted.customers == 4000 and fitted.log_likelihood is not None and fitted.log_likelihood < 0


def _events(seed: int) -> list[Any]:
    rng = random.Random(seed)
    events: list[Any] = []
    for c in range(25):
        t = T0 + rng.uniform(0, 20) * DAY
        for k in range(rng.randint(1, 6)):
            events.append(order(f"c{c}", t, f"o{k}", amount=20.0))
            t += rng.uniform(1, 60) * DAY
    events.append(order("c0", events[0].ts + 3600, "o0", status="cancelled"))  # its first order counts nowhere
    events.append(payment("nobody-ordered", T0, kind="charge", amount=5.0, currency="USD", status="succeeded"))
    return sorted(events, key=lambda e: e.ts)


@pytest.mark.parametrize("kind", ["mbgnbd", "bgnbd", "paretonbd"])
def test_online_model_signals_equal_the_offline_fit(kind: str) -> None:
    events = _events(seed=5)
    at = T0 + 400.5 * DAY
    offline = histories(events, at)
    model = fit(list(offline.values()), kind)
    engine = Engine(load_pack(), EngineConfig(model=model))
    for event in events:
        engine.process(event)
    assert set(offline) == {f"c{c}" for c in range(25)}
    for cid, h in offline.items():
        view = engine.view(cid, at)
        assert view is not None
        s = view["signals"]
        assert s["p_alive"] == pytest.approx(p_alive(model, h), abs=1e-6)
        assert s["expected_orders_90d"] == pytest.approx(expected_orders(model, h, 90), abs=1e-6)
        assert s["p_order_30d"] == pytest.approx(p_order_within(model, h, 30), abs=1e-6)
    quiet = engine.view("nobody-ordered", at)
    assert quiet is not None and quiet["signals"]["p_alive"] is None


def test_model_signals_are_null_without_a_model() -> None:
    engine = Engine(load_pack(), EngineConfig())
    engine.process(order("c", T0, "o1"))
    view = engine.view("c", T0 + 40 * DAY)
    assert view is not None
    assert view["signals"]["p_alive"] is None and view["signals"]["expected_orders_90d"] is None
    assert "low_expected_orders" not in {r["rule"] for r in view["rules"]}
    assert "first_order_lapse" in {r["rule"] for r in view["rules"]}


def test_due_index_equals_scan_with_a_model() -> None:
    cfg = SimConfig(customers=40, days=50, seed=11, churn_share=0.4)
    events = [parse_line(orjson.dumps(e)) for e in generate(cfg)]
    model = fit(list(histories(events, events[-1].ts).values()), "mbgnbd")

    def run(scan_all: bool) -> list[dict[str, Any]]:
        e = Engine(load_pack(), EngineConfig(model=model, scan_all=scan_all, tick_seconds=6 * 3600))
        out: list[dict[str, Any]] = []
        for ev in events:
            out += e.process(ev)
        return out + e.finish()

    indexed = run(False)
    assert indexed == run(True)
    assert indexed and all(a["signals"]["p_alive"] is not None for a in indexed if a["signals"]["orders_total"])


def test_model_file_round_trip_and_errors() -> None:
    fitted = BuyingModel("mbgnbd", 0.53, 42.7, 0.91, 1.58, log_likelihood=-14283.1, customers=2357)
    back = parse_model(dump_model(fitted, {"until": "1997-09-30T00:00:00Z"}))
    assert back == BuyingModel("mbgnbd", 0.53, 42.7, 0.91, 1.58, log_likelihood=-14283.1, customers=2357)
    text = dump_model(fitted)
    for bad, reason in [
        (text.replace("kind: mbgnbd", "kind: pareto"), "kind must be one of"),
        (text.replace("kind: mbgnbd", "kind: paretonbd"), r"params.s must be a positive number"),
        (text.replace("r: 0.53", "r: -1"), "params.r must be a positive number"),
        (text.replace("version: 1", "version: 7"), "unsupported version"),
        ("- a list", "a model file is a mapping"),
        ("params: {r: [", "not valid YAML"),
    ]:
        with pytest.raises(ModelError, match=reason):
            parse_model(bad, "m.yaml")


def test_visit_model_online_equals_offline_and_the_file_keeps_it() -> None:
    cfg = SimConfig(customers=30, days=40, seed=4, churn_share=0.3)
    events = [parse_line(orjson.dumps(e)) for e in generate(cfg)]
    at = events[-1].ts + 0.25 * DAY
    visits = visit_histories(events, at)
    model = replace(fit(list(histories(events, at).values())), visits=fit(list(visits.values())))
    engine = Engine(load_pack(), EngineConfig(model=model))
    for event in events:
        engine.process(event)
    assert model.visits is not None and len(visits) >= 20
    for cid, h in visits.items():
        view = engine.view(cid, at)
        assert view is not None
        assert view["signals"]["p_alive_visits"] == pytest.approx(p_alive(model.visits, h), abs=1e-6)
        assert view["signals"]["expected_logins_30d"] == pytest.approx(expected_orders(model.visits, h, 30), abs=1e-6)
    back, v = parse_model(dump_model(model)).visits, model.visits
    assert back is not None and (back.kind, back.customers) == (v.kind, v.customers)
    assert (back.r, back.alpha, back.a, back.b) == pytest.approx((v.r, v.alpha, v.a, v.b))
    without = Engine(load_pack(), EngineConfig(model=replace(model, visits=None)))
    without.process(events[0])
    view = without.view(events[0].customer_id, at)
    assert view is not None and view["signals"]["p_alive_visits"] is None


@pytest.mark.parametrize("kind", ["mbgnbd", "bgnbd"])
@pytest.mark.parametrize("history", [(0, 0.0, 60.0), (3, 40.0, 90.0)])
def test_conditional_signals_match_direct_integration(kind: str, history: tuple[int, float, float]) -> None:
    """p_alive, expected orders and P(an order) within t against the model's definition: λ
    integrated in closed form for each p, p numerically; an alive customer orders E = (1 − e^(−λpt))/p
    times in t (it may drop out after each order) and orders at all with chance 1 − e^(−λt)."""
    m = BuyingModel(kind, 1.3, 20.0, 1.4, 2.6)
    x, t_x, T = history
    t = 45.0

    def g(s: float) -> float:  # E_λ[λ^x e^(−λs)] under Gamma(r, α), without the constant Γ(r+x)/Γ(r)
        return float(m.alpha**m.r / (m.alpha + s) ** (m.r + x))

    k_alive = x + 1 if kind == "mbgnbd" else x
    k_drop = x if kind == "mbgnbd" else x - 1

    def over_p(fn: Any) -> float:
        return float(integrate.quad(lambda p: fn(p) * stats.beta.pdf(p, m.a, m.b), 0, 1, epsabs=1e-13)[0])

    alive = over_p(lambda p: (1 - p) ** k_alive) * g(T)
    dropped = over_p(lambda p: p * (1 - p) ** k_drop) * g(t_x) if k_drop >= 0 else 0.0
    expected = over_p(lambda p: (1 - p) ** k_alive * (g(T) - g(T + p * t)) / p)
    ordering = over_p(lambda p: (1 - p) ** k_alive) * (g(T) - g(T + t))
    total = alive + dropped
    assert p_alive(m, history) == pytest.approx(alive / total, rel=1e-7)
    assert expected_orders(m, history, t) == pytest.approx(expected / total, rel=1e-7)
    assert p_order_within(m, history, t) == pytest.approx(ordering / total, rel=1e-7)


PARETO_MODELS = [
    BuyingModel("paretonbd", r=1.3, alpha=20.0, a=0.8, b=60.0),  # α < β
    BuyingModel("paretonbd", r=0.7, alpha=80.0, a=1.6, b=30.0),  # α > β (the other series)
]


@pytest.mark.parametrize("m", PARETO_MODELS)
@pytest.mark.parametrize("history", [(0, 0.0, 60.0), (3, 40.0, 90.0), (2, 75.0, 75.0)])
def test_pareto_nbd_against_its_definition(m: BuyingModel, history: tuple[int, float, float]) -> None:
    """Pareto/NBD: while alive a customer orders at rate λ ~ Gamma(r, α); it is alive until τ,
    exponential with rate μ ~ Gamma(s, β), so τ ~ Lomax(s, β) once μ is integrated out. With
    E[λ^k e^(−λc)] in closed form, every quantity is one integral over τ; the closed forms
    (likelihood, p_alive, expected orders) and the quadrature of P(an order within t) must agree."""
    x, t_x, T = history
    t = 45.0
    s, beta = m.a, m.b

    def g(c: float, k: int = x) -> float:  # E_λ[λ^k e^(−λc)]
        return float(math.exp(special.gammaln(m.r + k) - special.gammaln(m.r) + m.r * math.log(m.alpha))) / (
            m.alpha + c
        ) ** (m.r + k)

    def survive(u: float) -> float:  # P(τ > u)
        return float((beta / (beta + u)) ** s)

    def density(u: float) -> float:
        return float(s * beta**s / (beta + u) ** (s + 1))

    def quad(fn: Any, lo: float, hi: float) -> float:
        return float(integrate.quad(fn, lo, hi, epsabs=1e-16, epsrel=1e-11, limit=200)[0]) if hi > lo else 0.0

    alive = g(T) * survive(T)  # the orders as seen, and alive at T
    total = alive + quad(lambda u: g(u) * density(u), t_x, T)  # or dropped out silently after t_x
    expected = g(T, x + 1) * quad(survive, T, T + t)  # λ × E[time alive within the window]
    quiet = quad(lambda u: g(u) * density(u), T, T + t) + g(T + t) * survive(T + t)  # alive at T, no order
    closed = log_likelihood("paretonbd", (m.r, m.alpha, s, beta), np.array([x]), np.array([t_x]), np.array([T]))
    assert closed[0] == pytest.approx(math.log(total), abs=1e-7)
    assert p_alive(m, history) == pytest.approx(alive / total, rel=1e-7)
    assert expected_orders(m, history, t) == pytest.approx(expected / total, rel=1e-7)
    assert p_order_within(m, history, t) == pytest.approx((alive - quiet) / total, rel=1e-7)


def test_pareto_nbd_one_time_buyers_lapse_and_the_fit_recovers_simulated_customers() -> None:
    m = PARETO_MODELS[0]
    assert p_alive(m, (0, 0.0, 300.0)) < p_alive(m, (0, 0.0, 10.0)) < 1.0
    assert p_alive(m, (3, 50.0, 50.0)) == 1.0  # ordered just now
    assert expected_orders(m, (3, 50.0, 300.0), 90) < expected_orders(m, (3, 50.0, 60.0), 90)
    for heavy in PARETO_MODELS:  # hundreds of orders (or logins) neither overflow nor lose their sense
        quiet, recent = p_alive(heavy, (600, 300.0, 330.0)), p_alive(heavy, (600, 329.0, 330.0))
        assert 0.0 < quiet < recent <= 1.0
        assert math.isfinite(
            log_likelihood(
                "paretonbd", (heavy.r, heavy.alpha, heavy.a, heavy.b), *map(np.array, ([600], [300.0], [330.0]))
            )[0]
        )
    truth = BuyingModel("paretonbd", r=0.6, alpha=30.0, a=0.8, b=60.0)
    rng = np.random.default_rng(7)
    found = []
    T = 365.0
    for _ in range(4000):
        lam, life = rng.gamma(truth.r, 1 / truth.alpha), rng.exponential(1 / rng.gamma(truth.a, 1 / truth.b))
        t, last, x = 0.0, 0.0, 0
        while True:
            t += rng.exponential(1 / lam)
            if t > min(life, T):
                break
            last, x = t, x + 1
        found.append((x, float(math.floor(last)), T))
    fitted = fit(found, "paretonbd")
    assert fitted.kind == "paretonbd" and fitted.customers == 4000
    assert fitted.r == pytest.approx(truth.r, rel=0.25)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.35)
    assert fitted.a / fitted.b == pytest.approx(truth.a / truth.b, rel=0.35)  # the mean dropout rate


def test_pareto_model_file_names_its_parameters_s_and_beta() -> None:
    fitted = BuyingModel("paretonbd", 0.55, 73.0, 0.73, 104.5, log_likelihood=-14295.3, customers=2357)
    text = dump_model(fitted)
    assert "\n  s: 0.73\n" in text and "\n  beta: 104.5\n" in text and "\n  a: " not in text
    assert parse_model(text) == fitted
    with pytest.raises(ModelError, match=r"params\.beta must be a positive number"):
        parse_model(text.replace("beta: 104.5", "beta: 0"), "m.yaml")
