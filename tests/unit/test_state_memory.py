"""Memory per customer follows its encoded state: the store's values are not over-allocated.

orjson returns its output in a buffer of at least 4 KiB that it never shrinks; stored as is, each
customer's ~200-byte state held 4 KiB (the worker's RSS per customer was 20 to 40 times its encoded
bytes). This drives a few thousand simulated customers through the engine into a plain dict store
and checks what the store holds against what its values encode.
"""

from __future__ import annotations

import gc
import tracemalloc

import orjson

from agents.pack_file import load_pack
from rules.engine import Engine, EngineConfig
from streams.parse import parse_line
from streams.simulate import SimConfig, generate


def test_a_customer_costs_about_its_encoded_bytes_in_the_store() -> None:
    events = [parse_line(orjson.dumps(e)) for e in generate(SimConfig(customers=3000, days=5, seed=7))]
    pack = load_pack()
    gc.collect()
    tracemalloc.start()
    try:
        store: dict[str, bytes] = {}
        engine = Engine(pack, EngineConfig(), store)
        for event in events:
            engine.process(event)
        engine.commit()
        del engine
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    encoded = sum(len(v) for v in store.values())
    # values (encoded bytes + 33 bytes of object header each), keys and the dict's table
    budget = 1.5 * encoded + 300 * len(store)
    assert held <= budget, f"{held / len(store):,.0f} bytes held per customer, {encoded / len(store):,.0f} encoded"
