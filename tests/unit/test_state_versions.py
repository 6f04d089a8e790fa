"""Every encoded state version still decodes: bytes of version 3 captured before the state's
records became typed (``data/state_v3.json``, from a simulated replay), with the signals and
bookkeeping they meant then."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from rules.signals import SignalConfig, compute_signals
from rules.state import CustomerState

CASES: list[dict[str, Any]] = orjson.loads((Path(__file__).parent / "data" / "state_v3.json").read_bytes())


def _alert(memory: Any) -> list[Any]:
    return [memory.tier, list(memory.fired)] if hasattr(memory, "fired") else list(memory)


@pytest.mark.parametrize("case", CASES, ids=[c["customer_id"] for c in CASES])
def test_version_3_bytes_decode_to_the_same_meaning(case: dict[str, Any]) -> None:
    raw = base64.b64decode(case["state"])
    state = CustomerState.decode(raw)
    assert compute_signals(state, case["t"], SignalConfig()) == case["signals"]
    assert _alert(state.alert) == case["alert"]
    assert (state.tier, state.rar, state.due, state.lost, state.critical_since) == (
        case["tier"],
        case["rar"],
        case["due"],
        case["lost"],
        case["critical_since"],
    )
    again = CustomerState.decode(state.encode())
    assert compute_signals(again, case["t"], SignalConfig()) == case["signals"]
    assert len(state.encode()) <= len(raw)


def test_the_sample_covers_the_kinds_of_history() -> None:
    states = [CustomerState.decode(base64.b64decode(c["state"])) for c in CASES]
    assert any(s.tickets for s in states) and any(s.failures for s in states)
    assert any(s.sentiments for s in states) and any(s.subscription is not None for s in states)
