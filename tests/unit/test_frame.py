"""``rules.frame`` (all signals in one pass, the engine's hot path) equals the per-signal
functions of ``rules.signals``, value for value and type for type, in the same key order."""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from rules.frame import frame
from rules.signals import SIGNALS, customer_value
from rules.state import DAY, CustomerState

CASES: list[dict[str, Any]] = orjson.loads((Path(__file__).parent / "data" / "state_v3.json").read_bytes())


def _per_signal(s: CustomerState, t: float) -> dict[str, Any]:
    out = {name: fn(s, t) for name, fn in SIGNALS.items()}
    out["customer_value"] = customer_value(s, t, 3.0)
    return out


def _same(s: CustomerState, t: float) -> None:
    got, _ = frame(s, t, 3.0)
    want = _per_signal(s, t)
    assert list(got) == list(want)
    assert orjson.dumps(got) == orjson.dumps(want)


@pytest.mark.parametrize("case", CASES, ids=[c["customer_id"] for c in CASES])
def test_the_frame_equals_the_functions_on_captured_states(case: dict[str, Any]) -> None:
    s = CustomerState.decode(base64.b64decode(case["state"]))
    for dt in (-40 * DAY, -3 * DAY, 0.0, 0.5, 7 * DAY, 31 * DAY, 95 * DAY):
        _same(s, case["t"] + dt)


@pytest.mark.parametrize("seed", range(30))
def test_the_frame_equals_the_functions_on_random_histories(seed: int) -> None:
    rng = random.Random(seed)
    s = CustomerState()
    t0 = 1_790_000_000
    for _ in range(rng.randrange(1, 120)):
        ts = t0 + rng.randrange(0, 100 * DAY)
        kind = rng.randrange(7)
        if kind == 0:
            s.add_login(ts, 0)
        elif kind == 1:
            s.add_order(ts, round(rng.uniform(1, 300), 2), rng.randrange(1 << 32), 0)
        elif kind == 2 and s.orders:
            s.cancel_order(ts, rng.choice(s.orders).key, 0)
        elif kind == 3:
            s.add_payment_result(ts, rng.random() < 0.6, 0)
        elif kind == 4:
            s.add_chargeback(ts, 0)
        elif kind == 5:
            action = rng.choice(["opened", "updated", "reopened", "resolved"])
            s.ticket_action(ts, rng.randrange(5), action, rng.choice([None, "low", "urgent"]), 0)
        else:
            s.add_sentiment(ts, rng.uniform(-1, 1), 0)
    for _ in range(20):
        _same(s, t0 + rng.uniform(-5 * DAY, 200 * DAY))
