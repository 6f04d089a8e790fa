"""Replay's input in event-time order in bounded memory: the same stable order as sorting it all."""

from __future__ import annotations

import io
import random
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import sorted_events as se
from agents.pack_file import load_pack
from agents.replay import replay
from streams.parse import Limits
from streams.simulate import SimConfig, generate


def _write(folder: Path, name: str, rows: list[dict[str, object]]) -> Path:
    path = folder / name
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows) + b"not json\n")
    return path


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=60), min_size=1, max_size=4))
def test_spilled_chunks_merge_to_the_stable_order(files: list[list[int]]) -> None:
    folder = Path(__import__("tempfile").mkdtemp())
    paths = []
    for f, times in enumerate(files):
        rows = [
            {"type": "login", "event_id": f"{f}-{i}", "customer_id": "c", "ts": 1_790_000_000 + t}
            for i, t in enumerate(times)
        ]
        paths.append(_write(folder, f"{f}.jsonl", rows))
    expected = sorted(
        ((1_790_000_000 + t, f"{f}-{i}") for f, times in enumerate(files) for i, t in enumerate(times)),
        key=lambda x: x[0],  # stable: file order, then line order
    )
    original = se.chunk_events
    se.chunk_events = lambda _mb: 7  # type: ignore[assignment]  # tiny chunks: every input spills
    try:
        bad: list[se.BadLine] = []
        got = [(e.ts, e.event_id) for e in se.sorted_events(paths, Limits(), bad)]
    finally:
        se.chunk_events = original  # type: ignore[assignment]
    assert got == expected
    assert len(bad) == len(files) and all(b.reason == "invalid_json" for b in bad)


def test_a_chunk_boundary_inside_a_run_of_equal_times_keeps_file_and_line_order(tmp_path: Path) -> None:
    # 3 files; file "a" holds a run of 20 events at one time that 7-event chunks cut twice, file "b"
    # ties with it and comes after it, and file "c" is out of order. Sorting in memory is the oracle.
    t = 1_790_000_000
    rows = {
        "a": [t - 1, *([t] * 20), t + 1],
        "b": [t, t, t - 2, t],
        "c": [t + 5, t, t - 3],
    }
    paths = [
        _write(
            tmp_path,
            f"{name}.jsonl",
            [{"type": "login", "event_id": f"{name}{i}", "customer_id": "c", "ts": ts} for i, ts in enumerate(times)],
        )
        for name, times in rows.items()
    ]
    expected = [(float(ts), f"{name}{i}") for name, times in rows.items() for i, ts in enumerate(times)]
    expected.sort(key=lambda x: x[0])
    original = se.chunk_events
    se.chunk_events = lambda _mb: 7  # type: ignore[assignment]
    try:
        got = [(e.ts, e.event_id) for e in se.sorted_events(paths, Limits(), [])]
    finally:
        se.chunk_events = original  # type: ignore[assignment]
    assert got == expected
    in_memory = [(e.ts, e.event_id) for e in se.sorted_events(paths, Limits(), [])]
    assert in_memory == expected


def test_files_in_time_order_are_merged_without_holding_or_spilling(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    t = 1_790_000_000
    rows = {"a": [t, t, t + 1, t + 9], "b": [t - 5, t, t + 1, t + 1, t + 2], "c": [t + 1] * 12}
    paths = [
        _write(
            tmp_path,
            f"{n}.jsonl",
            [{"type": "login", "event_id": f"{n}{i}", "customer_id": "c", "ts": ts} for i, ts in enumerate(times)],
        )
        for n, times in rows.items()
    ]
    expected = sorted(
        ((float(ts), f"{n}{i}") for n, times in rows.items() for i, ts in enumerate(times)), key=lambda x: x[0]
    )
    monkeypatch.setattr(se, "chunk_events", lambda _mb: 7)  # the input is bigger than a chunk

    def no_spill(*_a: object) -> Path:
        raise AssertionError("input in time order was spilled")

    monkeypatch.setattr(se, "_spill", no_spill)
    bad: list[se.BadLine] = []
    assert [(e.ts, e.event_id) for e in se.sorted_events(paths, Limits(), bad)] == expected
    assert [b.reason for b in bad] == ["invalid_json"] * 3  # bad lines reported on this path too
    # one file out of order: the chunked sort takes over, with the same order
    rows["b"] = [t + 1, t - 5, t]
    paths[1] = _write(
        tmp_path,
        "b.jsonl",
        [{"type": "login", "event_id": f"b{i}", "customer_id": "c", "ts": ts} for i, ts in enumerate(rows["b"])],
    )
    assert not se.in_time_order(paths[1])
    monkeypatch.undo()
    monkeypatch.setattr(se, "chunk_events", lambda _mb: 7)
    expected = sorted(
        ((float(ts), f"{n}{i}") for n, times in rows.items() for i, ts in enumerate(times)), key=lambda x: x[0]
    )
    assert [(e.ts, e.event_id) for e in se.sorted_events(paths, Limits(), [])] == expected


def test_replay_in_small_memory_gives_the_same_alerts(tmp_path: Path) -> None:
    events = list(generate(SimConfig(customers=150, days=40, seed=5, churn_share=0.4)))
    random.Random(1).shuffle(events)  # unsorted input: the sort must do the work
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))

    def alerts(max_memory_mb: float) -> list[bytes]:
        out = io.BytesIO()
        replay([path], load_pack(), out, max_memory_mb=max_memory_mb)
        return [
            orjson.dumps({k: v for k, v in orjson.loads(line).items() if k != "emitted_at"})
            for line in out.getvalue().splitlines()
        ]

    whole = alerts(512)
    assert whole and alerts(0.5) == whole  # 0.5 MB: about 1,300 events a chunk, four spilled runs


def test_replay_with_its_state_in_rocksdb_gives_the_same_alerts(tmp_path: Path) -> None:
    events = list(generate(SimConfig(customers=80, days=30, seed=8, churn_share=0.5)))
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))

    def alerts(store: str, partitions: int) -> set[bytes]:
        out = io.BytesIO()
        replay([path], load_pack(), out, store=store, partitions=partitions)
        return {
            orjson.dumps({k: v for k, v in orjson.loads(x).items() if k != "emitted_at"})
            for x in out.getvalue().splitlines()
        }

    memory = alerts("memory://", 1)
    assert memory and alerts("rocksdb://", 1) == memory  # a temporary database
    assert alerts(f"rocksdb://{tmp_path / 'state'}", 3) == alerts("memory://", 3)
    assert (tmp_path / "state" / "partition-2").is_dir()


def test_sorted_input_streams_the_same_events_on_every_pass(tmp_path: Path) -> None:
    t = 1_790_000_000
    path = _write(
        tmp_path, "a.jsonl", [{"type": "login", "event_id": f"e{i}", "customer_id": "c", "ts": t - i} for i in range(5)]
    )
    bad: list[se.BadLine] = []
    events = se.SortedInput([path], Limits(), bad)
    first = [(e.ts, e.event_id) for e in events]
    assert first == sorted(first) and len(first) == 5
    assert [(e.ts, e.event_id) for e in events] == first  # a second pass: the same, read again
    assert len(events) == 5 and events.last_time == float(t)
    assert len(bad) == 1  # the bad line is reported once, not once per pass
