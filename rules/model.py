"""Model signals: a fitted population model of buying, evaluated per customer from its state.

The model is MBG/NBD (Batislam, Denizel and Filiztekin 2007): while alive, a customer orders at
a Poisson rate λ (Gamma(r, α) across customers); right after *each* order, including the first,
it drops out for good with probability p (Beta(a, b) across customers). Plain BG/NBD (Fader,
Hardie and Lee 2005) lets a customer drop out only after a *repeat* order, so a customer who
bought once and never again has P(alive) = 1 forever: exactly the customers a shop loses most.
In MBG/NBD they can lapse. ``kind: bgnbd`` is kept for comparison (the evaluation's baseline).

``kind: paretonbd`` is Pareto/NBD (Schmittlein, Morrison and Colombo 1987; the expressions of
Fader, Hardie and Lee's 2005 note): the same Poisson buying, but a customer's lifetime is
exponential with rate μ (Gamma(s, β) across customers), so dropping out can happen at any time,
not only right after an order. One-time buyers lapse too. Its parameters are kept in the same
four fields: ``a`` holds s and ``b`` holds β (the model file names them ``s`` and ``beta``).

A customer's history is (x, t_x, T) in whole days: x repeat orders (placed orders − 1), t_x the
days from its first to its last placed order, T the days from its first placed order to now.
Whole days make the signals change only once a day (at the first order's time of day), so the
due-time index knows when to re-evaluate; ``churnwatch fit`` uses the very same function.

Pure: no I/O (the model file is read in ``agents/model_file.py``).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from rules.state import DAY, CustomerState

KINDS = ("mbgnbd", "bgnbd", "paretonbd")
EXPECTED_ORDER_DAYS = (30, 90, 180, 365)  # expected_orders_<N>d and p_order_<N>d for these N
EXPECTED_LOGIN_DAYS = (7, 30, 90)  # expected_logins_<N>d for these N (the visit model)


@dataclass(frozen=True, slots=True)
class BuyingModel:
    """Fitted parameters (time unit: days) and how they were fitted."""

    kind: str
    r: float
    alpha: float
    a: float  # paretonbd: s (the shape of the dropout rate's Gamma)
    b: float  # paretonbd: β (its scale)
    log_likelihood: float | None = None
    customers: int = 0
    visits: BuyingModel | None = None  # the same model fitted to successful logins (optional)


History = tuple[int, float, float]  # (x, t_x, T) in days


def whole_days(seconds: float) -> float:
    return float(math.floor(seconds / DAY + 1e-9))


def history_of(first: float, last: float, orders: int, t: float) -> History | None:
    """(x, t_x, T) of a customer whose ``orders`` placed orders go from ``first`` to ``last``."""
    if orders < 1 or first > t:
        return None
    return orders - 1, whole_days(last - first), whole_days(t - first)


def state_history(s: CustomerState, t: float) -> History | None:
    """The customer's history at ``t`` from what the state holds (orders after ``t`` left out)."""
    if s.first_order is None or not s.orders_total or not s.orders:
        return None
    later = len(s.orders) - bisect.bisect_right(s.orders, (t, math.inf))
    if later >= len(s.orders):
        return None
    return history_of(s.first_order, s.orders[-1 - later].time, s.orders_total - later, t)


def visit_history(s: CustomerState, t: float) -> History | None:
    """The customer's history of successful logins at ``t`` (x = logins − 1, first to last login)."""
    if not s.logins_total or s.last_login is None:
        return None
    later = len(s.logins) - bisect.bisect_right(s.logins, t)
    if s.last_login <= t:
        last: int = s.last_login
    elif later < len(s.logins):
        last = s.logins[-1 - later]
    else:
        return None
    first = s.first_login if s.first_login is not None else (s.logins[0] if s.logins else last)
    return history_of(first, last, s.logins_total - later, t)


def _ratio_power(m: BuyingModel, x: int, t_x: float, T: float) -> float:
    return math.exp((m.r + x) * (math.log(m.alpha + T) - math.log(m.alpha + t_x)))


def pareto_log_a0(r: float, alpha: float, s: float, beta: float, x: Any, t_x: Any, T: Any) -> Any:
    """ln A₀ of Pareto/NBD, for scalars or arrays: A₀ = F(t_x) − F(T) with
    F(u) = ₂F₁(r+s+x, b; r+s+x+1; z(u)) / (m+u)^(r+s+x), z(u) = |α−β| / (m+u), m = max(α, β),
    b = s+1 when α ≥ β, else r+x (Fader, Hardie and Lee 2005, eq. 19-21). The series is taken
    through Euler's transformation, ₂F₁(a, b; c; z) = (1−z)^(c−a−b) ₂F₁(c−a, c−b; c; z), whose
    right side converges at z = 1 (a plain ₂F₁ overflows for a customer with hundreds of logins);
    1 − z = (min(α, β)+u) / (m+u). The difference is taken in logarithms."""
    import numpy as np
    from scipy.special import hyp2f1

    rsx = r + s + x
    big, small = max(alpha, beta), min(alpha, beta)
    # (c − a − b, the transformed series' b): c − a = 1 always
    power, second = (-s, r + x) if alpha >= beta else (1.0 - r - x, s + 1.0)

    def log_f(u: Any) -> Any:
        q = big + u
        z = (big - small) / q
        return power * (np.log(small + u) - np.log(q)) + np.log(hyp2f1(1.0, second, rsx + 1.0, z)) - rsx * np.log(q)

    log1, log2 = log_f(t_x), log_f(T)  # F(t_x) ≥ F(T): F falls with u
    with np.errstate(divide="ignore"):
        return log1 + np.log1p(-np.exp(np.minimum(log2 - log1, 0.0)))


def _pareto_p_alive(m: BuyingModel, h: History) -> float:
    x, t_x, T = h
    if t_x >= T:  # the last order is now: alive for sure
        return 1.0
    log_a0 = float(pareto_log_a0(m.r, m.alpha, m.a, m.b, x, t_x, T))
    odds = math.log(m.a) - math.log(m.r + m.a + x) + (m.r + x) * math.log(m.alpha + T) + m.a * math.log(m.b + T)
    return 1.0 / (1.0 + math.exp(min(odds + log_a0, 700.0)))


def _pareto_expected_alive(m: BuyingModel, h: History, days: float) -> float:
    """Expected orders in the next ``days`` of a customer alive now (λ ~ Gamma(r+x, α+T), μ ~ Gamma(s, β+T))."""
    x, _t_x, T = h
    s, bt = m.a, m.b + T
    lead = (m.r + x) / (m.alpha + T)
    if abs(s - 1.0) < 1e-9:
        return lead * bt * math.log1p(days / bt)
    return lead * bt / (s - 1.0) * (1.0 - math.exp((s - 1.0) * (math.log(bt) - math.log(bt + days))))


_NODES: tuple[Any, Any] | None = None


def _pareto_quiet_alive(m: BuyingModel, h: History, days: float) -> float:
    """P(no order in the next ``days``) of a customer alive now: it orders at rate λ until its
    remaining lifetime τ ends (τ ~ Lomax(s, β+T) once μ is integrated out), so this is
    E_τ[((α+T) / (α+T+min(τ, days)))^(r+x)]: the part where τ outlives the window in closed form,
    the rest by 48-point Gauss-Legendre quadrature over [0, days]."""
    import numpy as np

    global _NODES
    if _NODES is None:
        _NODES = np.polynomial.legendre.leggauss(48)
    x, _t_x, T = h
    k, at, s, bt = m.r + x, m.alpha + T, m.a, m.b + T
    nodes, weights = _NODES
    u = 0.5 * days * (nodes + 1.0)
    inner = np.exp(k * (np.log(at) - np.log(at + u)) + s * np.log(bt) - (s + 1.0) * np.log(bt + u)) * s
    survive = math.exp(k * (math.log(at) - math.log(at + days)) + s * (math.log(bt) - math.log(bt + days)))
    return survive + 0.5 * days * float(np.dot(weights, inner))


def p_alive(m: BuyingModel, h: History) -> float:
    """P(the customer has not dropped out) given its history."""
    x, t_x, T = h
    if m.kind == "paretonbd":
        return _pareto_p_alive(m, h)
    if m.kind == "bgnbd":
        if x == 0:
            return 1.0
        return 1.0 / (1.0 + m.a / (m.b + x - 1) * _ratio_power(m, x, t_x, T))
    return 1.0 / (1.0 + m.a / (m.b + x) * _ratio_power(m, x, t_x, T))


def p_order_within(m: BuyingModel, h: History, days: float) -> float:
    """P(at least one order in the next ``days``): alive, and the Poisson clock rings (λ ~ Gamma(r+x, α+T))."""
    x, _t_x, T = h
    if m.kind == "paretonbd":
        return p_alive(m, h) * (1.0 - _pareto_quiet_alive(m, h, days))
    quiet = math.exp((m.r + x) * (math.log(m.alpha + T) - math.log(m.alpha + T + days)))
    return p_alive(m, h) * (1.0 - quiet)


def expected_orders(m: BuyingModel, h: History, days: float) -> float:
    """Expected orders in the next ``days`` given the history (the conditional expectation)."""
    if m.kind == "paretonbd":
        value = p_alive(m, h) * _pareto_expected_alive(m, h, days)
        return max(value, 0.0) if math.isfinite(value) else 0.0
    from scipy.special import hyp2f1  # imported on first use: replay and the worker start faster without a model

    x, t_x, T = h
    z = days / (m.alpha + T + days)
    shrink = math.exp((m.r + x) * (math.log(m.alpha + T) - math.log(m.alpha + T + days)))
    if m.kind == "bgnbd":
        c = m.a + m.b + x - 1
        lead = c / (m.a - 1)
        hyp = float(hyp2f1(m.r + x, m.b + x, c, z))
        odds = m.a / (m.b + x - 1) * _ratio_power(m, x, t_x, T) if x > 0 else 0.0
    else:
        c = m.a + m.b + x
        lead = c / (m.a - 1)
        hyp = float(hyp2f1(m.r + x, m.b + x + 1, c, z))
        odds = m.a / (m.b + x) * _ratio_power(m, x, t_x, T)
    value = lead * (1.0 - hyp * shrink) / (1.0 + odds)
    return max(value, 0.0) if math.isfinite(value) else 0.0
