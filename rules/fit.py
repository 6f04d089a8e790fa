"""Maximum-likelihood fit of the buying model (``churnwatch fit``), on numpy and scipy.

The log-likelihood of one customer with history (x, t_x, T), in days:

- MBG/NBD: ``A1 + A2 + A3 + log(1 + exp(A4))`` with
  A1 = lnΓ(r+x) − lnΓ(r) + r ln α,  A2 = ln B(a, b+x+1) − ln B(a, b),
  A3 = −(r+x) ln(α+T),  A4 = ln a − ln(b+x) + (r+x)(ln(α+T) − ln(α+t_x));
- BG/NBD: ``A1 + ln B(a, b+x) − ln B(a, b) + log(exp(A3) + [x>0] a/(b+x−1) (α+t_x)^−(r+x))``;
- Pareto/NBD (s, β in the fields a, b): ``A1 + s ln β + log(exp(A3 − s ln(β+T)) + s/(r+s+x) A0)``
  with A0 from ``rules.model.pareto_log_a0`` (Fader, Hardie and Lee 2005, eq. 18-21).

The four parameters are optimised on their logarithms (so they stay positive) by L-BFGS-B from a
few starting points; the best optimum wins. Pure: histories in, parameters out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from rules.model import KINDS, BuyingModel, History, history_of, pareto_log_a0
from streams.events import Event, Login, Order

Array = NDArray[np.float64]
STARTS = ((0.5, 30.0, 1.0, 3.0), (0.25, 10.0, 0.5, 2.0), (1.0, 100.0, 2.0, 5.0))
PARETO_STARTS = ((0.5, 30.0, 0.5, 30.0), (0.25, 10.0, 1.0, 100.0), (1.0, 100.0, 2.0, 300.0))


def log_likelihood(kind: str, params: Sequence[float] | Array, x: Array, t_x: Array, T: Array) -> Array:
    """Per-customer log-likelihood."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a3 = -(r + x) * np.log(alpha + T)
    if kind == "paretonbd":
        s, beta = a, b
        log_a0 = pareto_log_a0(r, alpha, s, beta, x, t_x, T)
        tail = np.log(s) - np.log(r + s + x) + log_a0
        pareto: Array = a1 + s * np.log(beta) + np.logaddexp(a3 - s * np.log(beta + T), tail)
        return pareto
    if kind == "mbgnbd":
        a2 = betaln(a, b + x + 1) - betaln(a, b)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        out: Array = a1 + a2 + a3 + np.logaddexp(a4, 0.0)
        return out
    a2 = betaln(a, b + x) - betaln(a, b)
    repeat = x > 0
    a4 = np.where(repeat, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    out = a1 + a2 + np.logaddexp(a3, a4)
    return out


def arrays(histories: Sequence[History]) -> tuple[Array, Array, Array]:
    data = np.asarray(histories, dtype=np.float64).reshape(-1, 3)
    return data[:, 0], data[:, 1], data[:, 2]


def fit(histories: Sequence[History], kind: str = "mbgnbd") -> BuyingModel:
    """The maximum-likelihood parameters for these customers' histories."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r} (one of {', '.join(KINDS)})")
    if len(histories) < 2:
        raise ValueError(f"need the histories of at least 2 customers with orders, got {len(histories)}")
    x, t_x, T = arrays(histories)
    n = len(x)

    def objective(log_params: Array) -> float:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):  # a trial point far out may overflow: it is then refused below
            value = -float(np.sum(log_likelihood(kind, params, x, t_x, T))) / n
        return value if np.isfinite(value) else 1e12

    best = None
    for start in PARETO_STARTS if kind == "paretonbd" else STARTS:
        result = minimize(objective, np.log(start), method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4)
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    if kind != "paretonbd" and abs(a - 1.0) < 1e-6:  # the conditional expectation has a removable pole at a = 1
        a = 1.0 + 1e-6
    return BuyingModel(kind, r, alpha, a, b, log_likelihood=-float(best.fun) * n, customers=n)


def histories(events: Iterable[Event], at: float) -> dict[str, History]:
    """Each customer's (x, t_x, T) at ``at`` from the placed orders before ``at``, as the state
    counts them: an order later cancelled or refunded (same ``order_id``) counts nowhere."""
    placed: dict[str, dict[str, float]] = {}
    cancelled: dict[str, set[str]] = {}
    for event in events:
        if not isinstance(event, Order) or event.ts >= at:
            continue
        if event.status == "placed":
            placed.setdefault(event.customer_id, {}).setdefault(event.order_id, event.ts)
        else:
            cancelled.setdefault(event.customer_id, set()).add(event.order_id)
    out: dict[str, History] = {}
    for cid, orders in placed.items():
        times = sorted(ts for oid, ts in orders.items() if oid not in cancelled.get(cid, ()))
        history = history_of(times[0], times[-1], len(times), at) if times else None
        if history is not None:
            out[cid] = history
    return out


def visit_histories(events: Iterable[Event], at: float) -> dict[str, History]:
    """Each customer's (x, t_x, T) of successful logins before ``at`` (x = logins − 1)."""
    times: dict[str, list[float]] = {}
    for event in events:
        if isinstance(event, Login) and event.success and event.ts < at:
            times.setdefault(event.customer_id, []).append(event.ts)
    out: dict[str, History] = {}
    for cid, ts in times.items():
        history = history_of(min(ts), max(ts), len(ts), at)
        if history is not None:
            out[cid] = history
    return out
