"""The benchmark harness keeps working: a tiny run writes its JSON and Markdown (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is a top-level folder of the repo, not an installed package
    sys.path.insert(0, str(REPO))

from bench.profiling import summarize_collapsed  # noqa: E402
from bench.results import build_rows, render_markdown, render_text  # noqa: E402
from bench.synth import DAY, live_mix, memory_set  # noqa: E402


def test_tiny_offline_run_writes_json_and_markdown(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "run", "--size", "tiny", "--only", "replay,memory"),
            *("--out-dir", str(tmp_path), "--stem", "smoke", "--no-profile"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = orjson.loads((tmp_path / "smoke.json").read_bytes())
    assert report["size"]["name"] == "tiny"
    assert report["machine"]["cores"] and report["machine"]["python"]
    for name in ("replay", "memory", "tick"):
        m = report["measurements"][name]
        # "skipped" while the product code it needs is missing; never a crash of the harness.
        assert m["status"] in ("ok", "skipped"), (name, m)
    if report["measurements"]["replay"]["status"] == "ok":
        assert report["measurements"]["replay"]["engine_eps"] > 0
    keys = {r["key"] for r in report["rows"]}
    assert {"replay_engine_eps", "live_worker_eps", "raw_aiokafka_eps", "quix_eps"} <= keys
    md = (tmp_path / "smoke.md").read_text()
    assert "| measurement | value | unit | goal |" in md
    assert "replay: engine loop" in proc.stdout  # the table is printed too


def test_rows_compare_with_goals() -> None:
    measurements = {
        "replay": {"status": "ok", "engine_eps": 200_000.0},
        "memory": {"status": "ok", "runs": [{"customers": 1000, "state_bytes_per_customer": 700.0}]},
        "live_worker": {"status": "ok", "eps": 20_000.0},
        "raw_aiokafka": {"status": "ok", "eps": 100_000.0},
        "quix": {"status": "ok", "eps": 10_000.0},
        "latency": {"status": "ok", "runs": [{"rate": 5000, "alerts": 50, "p50_ms": 5, "p99_ms": 150, "max_ms": 200}]},
        "tick": {"status": "skipped", "reason": "no engine"},
    }
    rows = {r.key: r for r in build_rows(measurements)}
    assert rows["replay_engine_eps"].met is True
    assert rows["memory_state_bytes_1000"].met is False
    assert rows["live_worker_eps"].met is False
    assert rows["live_worker_raw_share"].value == 0.2 and rows["live_worker_raw_share"].met is False
    assert rows["live_worker_vs_quix"].met is True
    assert rows["latency_p99_5000"].met is False
    assert rows["tick_seconds"].value is None and "no engine" in rows["tick_seconds"].note
    text = render_text(list(rows.values()))
    assert "MISSED" in text and "met" in text
    md = render_markdown({"rows": [r.__dict__ for r in rows.values()], "machine": {}, "size": {"name": "x"}})
    assert md.count("\n| ") >= len(rows)


def test_collapsed_stack_summary() -> None:
    text = "main (a.py:1);work (b.py:2);parse (c.py:3) 30\nmain (a.py:1);work (b.py:2) 10\n"
    top = summarize_collapsed(text)
    assert top[0]["function"] == "parse" and abs(top[0]["self_share"] - 0.75) < 1e-9
    work = next(t for t in top if t["function"] == "work")
    assert abs(work["total_share"] - 1.0) < 1e-9


def test_synthetic_sets_are_in_event_time_order() -> None:
    mix = list(live_mix(500, 50, 0.0, DAY))
    assert len(mix) == 500
    assert {e["type"] for e in mix} == {"login", "order", "payment", "support_ticket"}
    events = list(memory_set(1000, 4, base=100 * DAY, due_share=0.01))
    assert len(events) == 4000
    times = [e.ts for e in events]
    assert times == sorted(times)
    early = {e.customer_id for e in events if e.ts < 100 * DAY}
    assert len(early) == 10


def test_scale_rows_check_flat_cost_and_memory_goals(tmp_path: Path) -> None:
    from bench.scale_chart import draw_scale_chart

    def run(n: int, store: str, eps: float, rss_mb: float, state_mb: float) -> dict[str, object]:
        state = state_mb * 1e6
        return {
            **{"status": "ok", "customers": n, "store": store, "eps": eps, "peak_rss_bytes": rss_mb * 1e6},
            **{"state_bytes": state, "rss_goal_bytes": 2 * state + 300e6},
        }

    scale = {
        "status": "ok",
        "days": 5,
        "runs": [
            *(run(10, "memory://", 100.0, 200, 1), run(1000, "memory://", 80.0, 900, 100)),
            *(run(10, "rocksdb://", 50.0, 150, 1), run(1000, "rocksdb://", 49.0, 160, 100)),
        ],
        "flat_ratio_memory": 0.8,
        "flat_ratio_rocksdb": 0.98,
    }
    worker = {
        "status": "ok",
        "state_bytes_per_customer": 200.0,
        "runs": [
            {"status": "ok", "customers": 10, "store": "memory://", "rss_bytes_per_customer": 500.0},
            {"status": "ok", "customers": 10, "store": "memory://", "rss_bytes_per_customer": 700.0},
            {"status": "ok", "customers": 10, "store": "memory://", "rss_bytes_per_customer": 550.0},
            {"status": "ok", "customers": 10, "store": "rocksdb://", "rss_bytes_per_customer": 900.0},
        ],
        "marginal_memory": 650.0,
        "marginal_rocksdb": 300.0,
    }
    rows = {r.key: r for r in build_rows({"scale_replay": scale, "scale_worker": worker})}
    assert rows["scale_flat_memory"].met is False  # 80% of the smallest size's speed
    assert rows["scale_flat_rocksdb"].met is True
    assert rows["scale_memory_1000_rss"].met is False  # 900 MB > 2 x 100 MB + 300 MB
    assert rows["scale_memory_10_rss"].met is True
    assert rows["scale_rocksdb_1000_rss"].met is None  # no goal for RocksDB's peak (bounded by chunks)
    assert rows["scale_worker_memory_10"].met is True  # the median of the repeats, 550 <= 3 x 200
    assert rows["scale_worker_memory_10"].value == 550.0
    assert rows["scale_worker_marginal_memory"].met is False  # 650 > 3 x 200
    assert rows["scale_worker_marginal_rocksdb"].met is None
    assert rows["scale_worker_rocksdb_10"].met is None
    png = draw_scale_chart(scale, tmp_path / "scale.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scale_replay_measures_both_stores_at_each_size(tmp_path: Path) -> None:
    from bench.scale import measure_scale_replay
    from bench.sizes import get_size

    out = measure_scale_replay(get_size("tiny"), tmp_path, log=lambda _msg: None)
    assert out["status"] == "ok", out
    seen = {(r["customers"] > 500, r["store"]) for r in out["runs"] if r["status"] == "ok"}
    assert seen == {(False, "memory://"), (True, "memory://"), (False, "rocksdb://"), (True, "rocksdb://")}
    for r in out["runs"]:
        assert r["events"] > 0 and r["peak_rss_bytes"] > 10e6 and r["state_bytes_per_customer"] > 50
    assert not list(tmp_path.glob("scale-*.jsonl"))  # event files removed after use


def test_the_worker_marginal_per_customer_is_per_repeat_between_the_sizes() -> None:
    from bench.scale import marginal_per_customer

    def run(repeat: int, n: int, idle: float, loaded: float, status: str = "ok") -> dict[str, object]:
        return {
            "status": status,
            "repeat": repeat,
            "customers": n,
            "store": "memory://",
            **{"rss_idle_bytes": idle, "rss_loaded_bytes": loaded},
        }

    runs = [
        run(0, 100, 1000.0, 31_000.0),
        run(0, 500, 1200.0, 111_200.0),  # (110,000 - 30,000) / 400
        run(1, 100, 1000.0, 41_000.0),
        run(1, 500, 1000.0, 81_000.0),  # (80,000 - 40,000) / 400
        run(2, 100, 1000.0, 41_000.0),
        run(2, 500, 0.0, 0.0, "error"),  # no pair: left out
    ]
    assert marginal_per_customer(runs, "memory://") == [200.0, 100.0]
    assert marginal_per_customer(runs, "rocksdb://") == []
