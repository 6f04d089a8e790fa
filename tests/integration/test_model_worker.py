"""Model signals live: a worker started with CHURNWATCH_MODEL serves p_alive and expected orders."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.model_file import load_model
from rules.model import expected_orders, history_of, p_alive
from streams.parse import parse_ts
from streams.timefmt import format_ts
from tests.integration.harness import WorkerProcess, produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = 86400.0
T0 = 1_583_020_800.0  # 2020-03-01T00:00:00Z
MODEL = "version: 1\nkind: mbgnbd\ntime_unit: day\nparams: {r: 0.5, alpha: 40.0, a: 0.9, b: 1.6}\n"


def _order(cid: str, day: float, n: int) -> dict[str, object]:
    return {
        "type": "order",
        "event_id": f"{cid}-{n}",
        "customer_id": cid,
        "ts": format_ts(T0 + day * DAY),
        "order_id": str(n),
        "amount": 20.0,
    }


def test_worker_serves_model_signals(services: dict[str, str], tmp_path: Path) -> None:
    model_file = tmp_path / "model.yaml"
    model_file.write_text(MODEL)
    events = [_order("once", 0, 1), _order("often", 0, 1), _order("often", 20, 2), _order("often", 40, 3)]
    events.append(_order("clock", 100, 1))  # moves the event clock of its partition
    worker = WorkerProcess(services, "model", CHURNWATCH_MODEL=str(model_file)).start()
    try:
        produce(worker, events)
        worker.wait_for_events(len(events))
        model = load_model(model_file)
        for cid, (first, last, orders) in {"once": (0, 0, 1), "often": (0, 40, 3)}.items():
            status, view = worker.get(f"/customers/{cid}")
            assert status == 200, view
            signals = view["signals"]
            assert signals["p_alive"] is not None and 0 < signals["p_alive"] <= 1
            # the view is at its partition's clock (as_of): the same history, offline
            h = history_of(T0 + first * DAY, T0 + last * DAY, orders, parse_ts(view["as_of"]))
            assert h is not None
            assert signals["p_alive"] == pytest.approx(p_alive(model, h), abs=1e-6)
            assert signals["expected_orders_90d"] == pytest.approx(expected_orders(model, h, 90), abs=1e-6)
    finally:
        worker.stop()
