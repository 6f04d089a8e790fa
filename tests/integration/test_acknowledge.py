"""Acknowledgements and history on a real worker: behind the token, 4xx JSON on bad requests,
durable when answered (the worker is killed right after and its successor has it), suppressing
what replay with the same acknowledgement line suppresses."""

from __future__ import annotations

import io
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from agents.replay import replay
from agents.topics import partition_of
from rules.pack import load_pack
from streams.parse import parse_ts
from streams.timefmt import format_ts
from tests.integration.harness import WorkerProcess, consume, produce, strip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "ack-test-token"
T0 = 1_790_000_000.0
HOUR, DAY = 3600.0, 86400.0
CID = "c-ack-1"


def sub(n: int, ts: float, action: str) -> dict[str, Any]:
    return {
        "type": "payment",
        "event_id": f"e-{n}",
        "customer_id": CID,
        "ts": format_ts(ts),
        "kind": "subscription",
        "action": action,
    }


PHASE_1 = [sub(1, T0, "paused"), sub(2, T0 + 2 * HOUR, "resumed")]  # firing watch, resolved
PHASE_2 = [sub(3, T0 + 8 * DAY, "paused"), sub(4, T0 + 11 * DAY, "cancelled")]  # held back, then worse


def call(worker: WorkerProcess, method: str, path: str, body: bytes | None = None, token: str | None = TOKEN) -> Any:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{worker.port}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def test_an_acknowledgement_is_durable_survives_a_crash_and_matches_replay(
    services: dict[str, str], tmp_path: Path
) -> None:
    env = {"CHURNWATCH_API_TOKEN": TOKEN, "CHURNWATCH_PARTITIONS": "1"}
    first = WorkerProcess(services, "ack", **env).start()
    second = WorkerProcess(services, "ack", prefix=first.prefix, **env)
    second.env["CHURNWATCH_APP_ID"] = first.env["CHURNWATCH_APP_ID"]
    try:
        produce(first, PHASE_1)
        first.wait_for_events(len(PHASE_1))
        path = f"/customers/{CID}/acknowledge"
        good = orjson.dumps({"by": "ana@example.com", "until": "30d", "note": "called them"})

        # the token, and clear 4xx JSON
        assert call(first, "POST", path, good, token=None)[0] == 401
        assert call(first, "POST", path, good, token="wrong")[0] == 401
        assert call(first, "GET", f"/customers/{CID}/history", token=None)[0] == 401
        for body, field in [
            (b"{not json", None),
            (b'{"until": "7d"}', "by"),
            (b'{"by": "ana", "until": "soon"}', "until"),
            (b'{"by": "ana", "until": "2020-01-01T00:00:00Z"}', "until"),
            (b'{"by": "ana", "until": "7d", "mood": "grim"}', "mood"),
        ]:
            status, answer = call(first, "POST", path, body)
            assert status == 400 and answer["error"] in ("invalid_json", "bad_request"), answer
            assert field is None or answer["detail"].startswith(field)
        assert call(first, "POST", "/customers/nobody/acknowledge", good)[0] == 404
        assert call(first, "POST", path, b"{" + b" " * 9000 + b"}")[0] == 413

        status, answer = call(first, "POST", path, good)
        assert status == 200, answer
        ack_at = T0 + 2 * HOUR  # the partition's event clock: its last event's time
        assert answer["acknowledgement"] == {
            "by": "ana@example.com",
            "at": format_ts(ack_at),
            "until": format_ts(ack_at + 30 * DAY),
            "tier": "watch",
            "note": "called them",
        }
        first.stop(signal.SIGKILL)  # answered means durable: no graceful leave needed

        second.start()
        status, view = call(second, "GET", f"/customers/{CID}")
        assert status == 200 and view["acknowledgement"] == answer["acknowledgement"]
        status, shown = call(second, "GET", f"/customers/{CID}/history")
        assert status == 200 and [e["type"] for e in shown["entries"]] == ["change", "change", "acknowledged"]
        assert shown["entries"][-1]["by"] == "ana@example.com" and "note" not in shown["entries"][-1]

        produce(second, PHASE_2)
        second.wait_for_events(len(PHASE_2))
        time.sleep(1.0)
        live = [a for key, a in consume(services["bootstrap"], second.topic("alerts")) if key == CID.encode()]
        assert second.metric("churnwatch_alerts_held_back_total") == 1
    finally:
        first.stop()
        second.stop()

    lines = [orjson.dumps(e) for e in PHASE_1]
    lines.append(
        orjson.dumps({"type": "acknowledgement", "customer_id": CID, "ts": format_ts(ack_at)} | orjson.loads(good))
    )
    lines += [orjson.dumps(e) for e in PHASE_2]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    out = io.BytesIO()
    result = replay([events], load_pack(), out, final_tick=False)
    assert result.acknowledgements == 1 and not result.bad_lines
    expected = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [(a["status"], a["tier"]) for a in expected] == [
        ("firing", "watch"),
        ("resolved", "healthy"),
        ("firing", "critical"),
    ]
    assert strip(live) == strip(expected)  # the held-back watch never came, from either worker


def test_history_and_acknowledgements_reach_the_owner_from_any_worker(services: dict[str, str]) -> None:
    """Two workers on the wall clock (the default; acknowledged at the worker's time)."""
    env = {"CHURNWATCH_API_TOKEN": TOKEN, "CHURNWATCH_PARTITIONS": "2", "CHURNWATCH_CLOCK": "wall"}
    a = WorkerProcess(services, "ack-pair", **env)
    b = WorkerProcess(services, "ack-pair", prefix=a.prefix, **env)
    b.env["CHURNWATCH_APP_ID"] = a.env["CHURNWATCH_APP_ID"]
    customers = [f"c-pair-{i}" for i in range(8)]
    assert {partition_of(c, 2) for c in customers} == {0, 1}
    now = float(int(time.time()))
    events = [
        {"type": "payment", "event_id": f"p-{c}", "customer_id": c, "ts": format_ts(now - 60), "kind": "subscription"}
        | {"action": "paused"}
        for c in customers
    ]
    try:
        a.start()
        b.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # each worker owns one partition
            owned = [set(w.get("/healthz")[1].get("partitions", [])) for w in (a, b)]
            if owned[0] and owned[1] and not owned[0] & owned[1]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the two workers did not share the partitions")
        produce(a, events)
        deadline = time.monotonic() + 60
        while a.metric("churnwatch_events_total") + b.metric("churnwatch_events_total") < len(events):
            assert time.monotonic() < deadline, "events not processed"
            time.sleep(0.5)
        for i, cid in enumerate(customers):
            owner, other = (a, b) if partition_of(cid, 2) in owned[0] else (b, a)
            body = orjson.dumps({"by": f"agent-{i}", "until": "14d"})
            status, answer = call(other, "POST", f"/customers/{cid}/acknowledge", body)  # forwarded
            assert status == 200 and answer["acknowledgement"]["by"] == f"agent-{i}", answer
            assert now <= parse_ts(answer["acknowledgement"]["at"]) <= time.time() + 1  # the worker's time
            assert call(other, "POST", f"/customers/{cid}/acknowledge", body, token=None)[0] == 401
            status, view = call(owner, "GET", f"/customers/{cid}")
            assert status == 200 and view["acknowledgement"]["by"] == f"agent-{i}"
            status, shown = call(other, "GET", f"/customers/{cid}/history")  # routed by Faust
            assert status == 200 and [e["type"] for e in shown["entries"]] == ["change", "acknowledged"]
        assert a.metric("churnwatch_acknowledgements_total") + b.metric("churnwatch_acknowledgements_total") == 8
    finally:
        a.stop()
        b.stop()
