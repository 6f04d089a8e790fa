"""Rule expressions: CEL bindings against plain Python, and ``RulePack.evaluate`` per call.

    .venv/bin/python -m bench.expr_bench            # ~20 s
    .venv/bin/python -m bench.expr_bench --quick    # ~3 s (fewer repeats)

Measures (best of several timeit runs, nanoseconds per call, one core):

- compile time per expression: ``common-expression-language`` (``cel.compile``) and the pure
  Python ``cel-python`` (``celpy``; measured only when importable — it is not a project
  dependency: ``pip install cel-python`` into another venv and add its site-packages to
  ``PYTHONPATH`` to include it);
- evaluation of the guard ``logins_total >= 3``: plain Python (``operator.ge`` and the
  precompiled ``partial`` the pack uses), ``cel`` with a dict, with a reused ``cel.Context``,
  through ``rules.expressions.Guard.holds`` (null pre-check and int -> double conversion), the
  null path (pre-check vs. letting CEL raise ``TypeError``), and ``celpy``;
- ``RulePack.evaluate`` over the shipped default pack on typical signal dicts: a healthy customer
  (nothing fires, no CEL runs), an at-risk one (4 rules fire, 1 guard runs), and a new customer
  with mostly null signals.

Results on the development machine (Python 3.11.7, common-expression-language 0.10.0,
cel-python 0.5.0), ns per call, best of 7:

    compile  cel    'logins_total >= 3'                              7 500
    compile  cel    4-term expression with arithmetic               27 000
    compile  celpy  'logins_total >= 3'                             78 000
    compile  celpy  4-term expression with arithmetic              284 000
    eval     python operator.ge(v, 3)                                   41
    eval     python partial(operator.le, 3)(v)   (the pack)             50
    eval     cel    program.execute(dict)                            1 040
    eval     cel    program.execute(Context), reused                   170
    eval     cel    4-term expression                                2 530
    eval     celpy  program.evaluate                                97 700
    eval     Guard.holds, memoised (the pack)                          250
    eval     Guard.holds, not memoised                               2 040
    eval     Guard.holds, null signal (pre-check)                      120
    eval     cel execute with null -> TypeError caught                 690
    RulePack.evaluate  healthy customer (0 hits)                       566
    RulePack.evaluate  at-risk customer (4 hits, 1 guard)            2 415
    RulePack.evaluate  new customer (mostly null)                      510
    generic loop instead of the generated function, healthy        1 370

So: ``cel`` (Rust) is ~100x faster than ``celpy`` to evaluate and ~10x to compile, but still ~20x
a plain Python comparison; hence comparisons in Python, CEL only for guards/``expr``, memoised.
"""

from __future__ import annotations

import argparse
import operator
import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

import cel

from agents.pack_file import load_pack
from rules.expressions import compile_condition
from rules.signals import SIGNAL_NAMES, SIGNAL_TYPES

GUARD = "logins_total >= 3"
EXPRESSIONS = [
    GUARD,
    "days_since_last_login >= 14 && logins_total >= 3",
    "subscription_status in ['paused', 'downgraded'] || payment_failures_30d >= 2",
    "days_since_last_login / 7.0 > 2.0 && (login_trend <= 0.5 || logins_7d == 0)",
]

HEALTHY: dict[str, Any] = {
    "days_since_last_login": 1.3,
    "logins_7d": 5,
    "logins_prev_28d": 18,
    "login_trend": 1.11,
    "days_since_last_order": 9.5,
    "orders_90d": 4,
    "order_value_90d": 212.4,
    "median_order_gap_days": 21.0,
    "order_gap_ratio": 0.45,
    "payment_failures_30d": 0,
    "consecutive_payment_failures": 0,
    "chargebacks_90d": 0,
    "subscription_status": "active",
    "tickets_opened_14d": 0,
    "open_tickets": 0,
    "open_urgent_ticket_hours": None,
    "avg_sentiment_30d": None,
    "sentiment_count_30d": 0,
    "last_csat": 5,
    "last_nps": 9,
    "logins_total": 140,
    "orders_total": 22,
    "customer_value": 1840.0,
}
AT_RISK = HEALTHY | {
    "days_since_last_login": 16.2,
    "logins_7d": 0,
    "login_trend": 0.0,
    "payment_failures_30d": 2,
    "consecutive_payment_failures": 2,
    "subscription_status": "paused",
}
NEW: dict[str, Any] = dict.fromkeys(SIGNAL_NAMES) | {
    "days_since_last_login": 0.2,
    "logins_7d": 1,
    "logins_prev_28d": 0,
    "orders_90d": 0,
    "order_value_90d": 0.0,
    "payment_failures_30d": 0,
    "consecutive_payment_failures": 0,
    "chargebacks_90d": 0,
    "subscription_status": "none",
    "tickets_opened_14d": 0,
    "open_tickets": 0,
    "sentiment_count_30d": 0,
    "logins_total": 1,
    "orders_total": 0,
}


def ns_per_call(fn: Callable[[], Any], repeat: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e9


def _celpy() -> Any:
    try:
        import celpy
    except ImportError:
        return None
    return celpy


def run(repeat: int) -> list[tuple[str, float | None]]:
    rows: list[tuple[str, float | None]] = []
    celpy = _celpy()

    for src in EXPRESSIONS:
        rows.append((f"compile  cel   {src!r}", ns_per_call(lambda s=src: cel.compile(s), repeat)))  # type: ignore[misc]
    rows.append(
        (
            "compile  rules.expressions.compile_condition (all checks)",
            ns_per_call(lambda: compile_condition(EXPRESSIONS[1], SIGNAL_NAMES, SIGNAL_TYPES), repeat),
        )
    )
    if celpy is not None:
        env = celpy.Environment()
        for src in EXPRESSIONS:
            rows.append(
                (f"compile  celpy {src!r}", ns_per_call(lambda s=src: env.program(env.compile(s)), repeat))  # type: ignore[misc]
            )
    else:
        rows.append(("compile  celpy (not installed)", None))

    value = 140
    ge = operator.ge
    rows.append(("eval     python operator.ge(v, 3)", ns_per_call(lambda: ge(value, 3), repeat)))
    test = partial(operator.le, 3)
    rows.append(("eval     python partial(operator.le, 3)(v)  (the pack)", ns_per_call(lambda: test(value), repeat)))

    program = cel.compile(GUARD)
    ctx_dict = {"logins_total": 140.0}
    rows.append(("eval     cel program.execute(dict)", ns_per_call(lambda: program.execute(ctx_dict), repeat)))
    context = cel.Context()
    context.add_variable("logins_total", 140.0)
    program.execute(context)
    rows.append(("eval     cel program.execute(Context) reused", ns_per_call(lambda: program.execute(context), repeat)))
    guard = compile_condition(GUARD, SIGNAL_NAMES, SIGNAL_TYPES)
    rows.append(("eval     Guard.holds, memoised", ns_per_call(lambda: guard.holds(HEALTHY), repeat)))

    def uncached() -> bool:
        guard.cache.clear()
        return guard.holds(HEALTHY)

    rows.append(("eval     Guard.holds, not memoised (pre-check + float + execute)", ns_per_call(uncached, repeat)))
    null_signals = {"logins_total": None}
    rows.append(("eval     Guard.holds, null signal", ns_per_call(lambda: guard.holds(null_signals), repeat)))

    def raising() -> bool:
        try:
            return program.execute(null_signals) is True
        except TypeError:
            return False

    rows.append(("eval     cel execute, null -> TypeError caught", ns_per_call(raising, repeat)))
    big = cel.compile(EXPRESSIONS[3])
    big_ctx = {"days_since_last_login": 16.2, "login_trend": 0.4, "logins_7d": 0.0}
    rows.append((f"eval     cel {EXPRESSIONS[3]!r}", ns_per_call(lambda: big.execute(big_ctx), repeat)))
    if celpy is not None:
        env = celpy.Environment()
        prog = env.program(env.compile(GUARD))
        activation = celpy.json_to_cel({"logins_total": 140.0})
        rows.append(("eval     celpy program.evaluate", ns_per_call(lambda: prog.evaluate(activation), repeat)))
    else:
        rows.append(("eval     celpy (not installed)", None))

    pack = load_pack()
    for name, signals in (("healthy customer", HEALTHY), ("at-risk customer", AT_RISK), ("new customer", NEW)):
        hits = len(pack.evaluate(signals).hits)
        rows.append(
            (f"RulePack.evaluate  {name} ({hits} hits)", ns_per_call(lambda s=signals: pack.evaluate(s), repeat))  # type: ignore[misc]
        )
    rows.append(
        (
            "RulePack._evaluate (generic loop, no codegen) healthy",
            ns_per_call(lambda: pack._evaluate(HEALTHY, []), repeat),
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    rows = run(repeat=2 if args.quick else 7)
    width = max(len(name) for name, _ in rows)
    print(f"{'what':<{width}}  ns/call")
    for name, ns in rows:
        print(f"{name:<{width}}  {'-' if ns is None else f'{ns:>10,.0f}'}")


if __name__ == "__main__":
    main()
