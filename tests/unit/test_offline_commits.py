"""When an engine commits never changes what it decides: the offline doors' policy (commit by the
number of changed customers held, no decoded cache) against the worker's (a cache, commits every
so many events), and against a commit after nearly every event, on simulated traffic. The stored
states are the same but for their due times: a quiet customer's login skips its evaluation only
while the engine holds the customer decoded (``rules.quiet``), and then keeps an earlier due time
than an evaluation would find (one more evaluation, which changes nothing)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agents.engine_setup import offline_engine
from agents.pack_file import load_pack
from rules.engine import CLOCK_KEY, Engine, EngineConfig
from rules.state import CustomerState
from streams.parse import parse_line
from streams.simulate import SimConfig, generate

END = 1_767_225_600.0


@pytest.fixture(scope="module")
def events() -> list[Any]:
    cfg = SimConfig(customers=150, days=40, end=END, seed=7)
    raw = sorted(generate(cfg), key=lambda e: e["ts"])
    return [parse_line(orjson.dumps(e), now=END) for e in raw]


def _run(engine: Engine, events: list[Any]) -> tuple[list[bytes], dict[str, Any]]:
    alerts: list[bytes] = []
    for event in events:
        alerts += [orjson.dumps(a) for a in engine.process(event)]
    alerts += [orjson.dumps(a) for a in engine.finish()]
    return alerts, {cid: raw if cid == CLOCK_KEY else _but_due(raw) for cid, raw in engine.store.items()}


def _but_due(raw: bytes) -> Any:
    """A customer's stored state: every field but its due time."""
    s = CustomerState.decode(raw)
    fields = {name: getattr(s, name) for name in CustomerState.__slots__ if name not in ("due", "memo")}
    return {k: list(v) if hasattr(v, "tobytes") else v for k, v in fields.items()}


def test_commit_policy_changes_nothing(events: list[Any]) -> None:
    pack, config = load_pack(), EngineConfig()
    worker_like = _run(Engine(pack, config, {}, decoded_cache=50, commit_every=97), events)
    offline = _run(offline_engine(pack, config, {}), events)
    every_few = _run(Engine(pack, config, {}, decoded_cache=0, commit_every=None, max_changed=3), events)
    assert worker_like[0], "the sample should raise alerts"
    assert offline == worker_like
    assert every_few == worker_like
