"""The live part of the benchmark harness runs against the local broker (tiny size, no timing asserted)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = os.environ.get("CHURNWATCH_KAFKA_BOOTSTRAP", "localhost:9092")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _broker_up() -> bool:
    host, _, port = BOOTSTRAP.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _broker_up(), reason=f"no Kafka broker at {BOOTSTRAP} (start deploy/local)")
def test_tiny_live_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "run", "--size", "tiny", "--only", "live", "--no-quix", "--no-profile"),
            *("--bootstrap", BOOTSTRAP, "--out-dir", str(tmp_path), "--stem", "live-smoke"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = orjson.loads((tmp_path / "live-smoke.json").read_bytes())
    m = report["measurements"]
    assert m["produce"]["events"] == report["size"]["live_events"]
    assert m["raw_aiokafka"]["status"] == "ok", m["raw_aiokafka"]
    assert m["raw_aiokafka"]["events"] >= report["size"]["live_events"]
    assert m["faust_noop"]["status"] == "ok", m["faust_noop"]
    assert m["faust_noop"]["events"] >= report["size"]["live_events"]
    # The worker is measured once its code exists; until then the row says why it was skipped.
    assert m["live_worker"]["status"] in ("ok", "skipped"), m["live_worker"]
    if m["live_worker"]["status"] == "ok":
        assert m["live_worker"]["events"] >= report["size"]["live_events"]
        assert m["latency"]["status"] == "ok", m["latency"]
        assert all(run["alerts"] > 0 for run in m["latency"]["runs"])
    assert m["cleanup"]["topics_deleted"] >= 6  # the run's own topics are removed


@pytest.mark.skipif(not _broker_up(), reason=f"no Kafka broker at {BOOTSTRAP} (start deploy/local)")
def test_tiny_worker_memory_per_customer_both_stores(tmp_path: Path) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from bench.scale import measure_scale_worker
    from bench.sizes import get_size

    out = measure_scale_worker(get_size("tiny"), BOOTSTRAP, tmp_path, log=lambda _msg: None)
    assert out["status"] == "ok", out
    assert {r["store"] for r in out["runs"] if r["status"] == "ok"} == {"memory://", "rocksdb://"}, out["runs"]
    assert 50 < out["state_bytes_per_customer"] < 600
    for run in out["runs"]:
        assert run["events"] == 2 * run["customers"]  # one login and one order each, all consumed
