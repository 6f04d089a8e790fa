"""Issue 13: replay grouped by customer writes what one engine writes, byte for byte (``emitted_at``
aside), with the same summary: several files, unsorted input, ties across groups, ticks without
events, acknowledgements, bad lines, the final tick, sorting in spilled chunks, RocksDB."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from agents.replay import replay
from agents.replay_groups import group_count
from agents.replay_result import ReplayResult
from agents.replay_split import customer_of, group_of, split_lines
from rules.engine import EngineConfig
from rules.pack import load_pack
from streams.parse import parse_ts
from streams.simulate import SimConfig, generate
from streams.timefmt import format_ts

PACK = load_pack()
DAY = 86400
STAMP = re.compile(rb',"emitted_at":"[^"]*"')
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def _write(path: Path, objects: list[Any], end: bytes = b"\n") -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(o) for o in objects) + end)
    return path


def _run(paths: list[Path], groups: int, **kw: Any) -> tuple[bytes, ReplayResult]:
    out = io.BytesIO()
    result = replay(paths, PACK, out, groups=groups, **kw)
    return STAMP.sub(b"", out.getvalue()), result


def _same(paths: list[Path], groups: int = 4, **kw: Any) -> bytes:
    """Grouped and ungrouped replays of ``paths`` agree in every byte and every count."""
    one, r1 = _run(paths, 1, **kw)
    many, r2 = _run(paths, groups, **kw)
    assert many == one
    for name in ("events", "duplicates", "late", "customers", "alerts", "state_bytes", "acknowledgements"):
        assert getattr(r2, name) == getattr(r1, name), name
    assert [str(b) for b in r2.bad_lines] == [str(b) for b in r1.bad_lines]
    t1, t2 = r1.totals, r2.totals
    assert t1 is not None and t2 is not None
    # sums of amounts added in another order: equal to the cent, not always in the last bit (-0.00)
    assert t2.revenue_at_risk == pytest.approx(t1.revenue_at_risk, abs=1e-6)
    t2.revenue_at_risk = t1.revenue_at_risk
    assert t2 == t1
    return one


def _simulated(customers: int = 120, days: int = 40, seed: int = 5) -> list[dict[str, Any]]:
    return list(generate(SimConfig(customers=customers, days=days, seed=seed)))


def test_several_time_ordered_files_and_the_final_tick(tmp_path: Path) -> None:
    events = _simulated()
    paths = [_write(tmp_path / f"part-{k}.jsonl", events[k::3]) for k in range(3)]
    out = _same(paths, groups=5)
    assert out.count(b"\n") > 10
    _same(paths, groups=3, final_tick=False)


def test_unsorted_input_and_spilled_chunks(tmp_path: Path) -> None:
    events = _simulated()
    random.Random(7).shuffle(events)
    paths = [
        _write(tmp_path / "a.jsonl", events[: len(events) // 2]),
        _write(tmp_path / "b.jsonl", events[len(events) // 2 :]),
    ]
    assert len(events) > 4000  # a group holds more than one chunk (1000 events at the smallest budget)
    _same(paths, groups=2, max_memory_mb=0.001)
    _same(paths, groups=3)


def test_ties_across_groups_ticks_without_events_and_acknowledgements(tmp_path: Path) -> None:
    rows: list[Any] = []
    for i in range(40):  # every customer at the same times: ties across the groups
        cid = f"c-{i}"
        rows.append(
            {
                "type": "payment",
                "event_id": f"s{i}",
                "customer_id": cid,
                "ts": T0,
                "kind": "subscription",
                "action": "started",
                "plan": "pro",
            }
        )
        for k in range(3):
            rows.append({"type": "login", "event_id": f"l{i}-{k}", "customer_id": cid, "ts": T0 + 3600 * (k + 1)})
        if i % 3 == 0:
            rows.append(
                {
                    "type": "payment",
                    "event_id": f"p{i}",
                    "customer_id": cid,
                    "ts": T0 + DAY,
                    "kind": "subscription",
                    "action": "paused",
                }
            )
        if i % 4 == 0:
            until = format_ts(T0 + 30 * DAY)
            rows.append(
                {
                    "type": "acknowledgement",
                    "customer_id": cid,
                    "ts": format_ts(T0 + DAY + 60),
                    "by": "ana",
                    "until": until,
                }
            )
    rows.append({"type": "acknowledgement", "customer_id": "nobody", "ts": T0 + DAY, "by": "ana", "until": "7d"})
    rows.append({"type": "login", "event_id": "late", "customer_id": "c-1", "ts": T0 + 45 * DAY})  # weeks of ticks
    rows.append({"type": "login", "event_id": "l1-0", "customer_id": "c-1", "ts": T0 + 45 * DAY})  # a duplicate
    path = _write(tmp_path / "ties.jsonl", rows)
    out = _same([path], groups=6)
    assert b"login_inactivity" in out and b'"event_time":"2026-01-02T00:00:00Z"' in out  # a tick at an event's time
    _same([path], groups=6, config=EngineConfig(tick_seconds=3600))


def test_bad_lines_are_reported_with_file_and_line(tmp_path: Path) -> None:
    events = _simulated(customers=30, days=10)
    good = _write(tmp_path / "good.jsonl", events[:200])
    bad = tmp_path / "bad.jsonl"
    lines = [orjson.dumps(e) for e in events[200:260]]
    lines[3] = b"{not json"
    lines[7] = b'{"type": "login", "customer_id": "c-1"}'
    lines[9] = b"   "
    lines[11] = b'{"type":"login","event_id":"x","customer_id":"c-\\u0031","ts":' + str(T0).encode() + b"}"
    lines[12] = b'{"type": "login", "event_id": "y", "customer_id" : "c-2", "ts": ' + str(T0).encode() + b"}"
    bad.write_bytes(b"\n".join(lines) + b'\n{"type": "order"}')  # the last line without a newline
    _, result = _run([good, bad], 1)
    assert [(Path(b.file).name, b.line) for b in result.bad_lines] == [
        ("bad.jsonl", 4),
        ("bad.jsonl", 8),
        ("bad.jsonl", len(lines) + 1),
    ]
    _same([good, bad], groups=3)


def test_rocksdb_store(tmp_path: Path) -> None:
    pytest.importorskip("rocksdict")
    path = _write(tmp_path / "e.jsonl", _simulated(customers=40, days=20))
    memory, _ = _run([path], 1)
    rocks, result = _run([path], 3, store=f"rocksdb://{tmp_path / 'db'}")
    assert rocks == memory and result.customers == 40
    assert (tmp_path / "db" / "partition-0").is_dir()  # where the ungrouped replay keeps it too


def test_partitions_are_replayed_as_before(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", _simulated(customers=40, days=20))
    assert _run([path], 4, partitions=3)[0] == _run([path], 1, partitions=3)[0]


def test_group_count_follows_the_input_size(tmp_path: Path) -> None:
    small = _write(tmp_path / "s.jsonl", _simulated(customers=10, days=5))
    config = EngineConfig()
    assert group_count([small], config, 1) == 1
    big = tmp_path / "big.jsonl"
    big.write_bytes(b" " * 140 * 5 * 50_000)  # the size of 50,000 customers' events
    assert group_count([big], config, 1) == 40
    assert group_count([small, small, small], config, 1) == 1
    assert group_count([big], config, 2) == 1
    assert group_count([big], EngineConfig(tick_seconds=0.5), 1) == 1


def test_customer_ids_read_in_place_or_parsed() -> None:
    assert customer_of(b'{"type":"login","customer_id":"c-9","ts":1}\n') == b"c-9"
    assert customer_of(b'{"customer_id": "c 9"}') == b"c 9"
    assert customer_of(b'{"customer_id" :"c-\\u0039"}') == b"c-9"
    assert customer_of(b'{"note":{"customer_id":"a"},"customer_id":"b"}') == b"b"
    assert customer_of(b'{"customer_id":"a","customer_id":"b"}') == b"b"  # JSON's last one, as the parser
    assert customer_of(b"{not json") is None
    assert customer_of(b'{"customer_id": 7}') is None


def test_split_keeps_each_customer_in_one_group_and_names_every_line(tmp_path: Path) -> None:
    rows = [b'{"customer_id":"c-%d","n":%d}' % (i % 17, i) for i in range(200)]
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(rows))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    other = tmp_path / "y.jsonl"
    other.write_bytes(b"\n\n" + rows[0] + b"\n")
    split = split_lines([path, tmp_path / "empty.jsonl", other], 4, tmp_path)
    assert split.unterminated == {199} and split.starts == [0, 200, 200]
    assert split.place(199) == (0, 200) and split.place(202) == (2, 3)
    seen: dict[bytes, int] = {}
    for g, f in enumerate(split.files):
        for record in f.read_bytes().splitlines():
            cid = customer_of(record.split(b" ", 1)[1])
            assert cid is not None and seen.setdefault(cid, g) == g
    assert len(seen) == 17


@pytest.mark.parametrize("guessed", ["none", "right", "below", "group 0's last"])
def test_a_wrong_guess_of_the_last_time_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guessed: str
) -> None:
    """Finished early at the guess (right), kept to the end (none; below: the first group is past
    it), or replayed ungrouped (group 0's last: a later group is past it): the same output."""
    import agents.replay_groups as rg

    events: list[Any] = _simulated(customers=60, days=30)
    other = next(f"x-{i}" for i in range(100) if group_of(f"x-{i}".encode(), 5) != 0)
    end = max(parse_ts(e["ts"]) for e in events) + 3600
    events.append({"type": "login", "event_id": "end", "customer_id": other, "ts": end})  # in another group
    path = _write(tmp_path / "e.jsonl", events)
    times = [(parse_ts(e["ts"]), group_of(e["customer_id"].encode(), 5)) for e in events]
    last = max(t for t, _ in times)
    first_group = max(t for t, g in times if g == 0)
    assert first_group < last
    guess = {"none": None, "right": last, "below": last - 40 * DAY, "group 0's last": first_group}[guessed]
    monkeypatch.setattr(rg, "guess_last_time", lambda paths, limits: guess)
    ran: list[bool] = []
    real = rg._run_groups
    monkeypatch.setattr(rg, "_run_groups", lambda *a: ran.append((r := real(*a)) is not None) or r)
    _same([path], groups=5)
    assert ran == [guessed != "group 0's last"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_grouped_replay_shows_its_progress_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agents.replay.PROGRESS_MIN_BYTES", 0)
    path = _write(tmp_path / "events.jsonl", _simulated(customers=40, days=10))
    terminal = _Terminal()
    one, _ = _run([path], 1)
    grouped, _ = _run([path], 3, progress=terminal)
    assert grouped == one
    assert "replay (grouped)" in terminal.getvalue() and "100%" in terminal.getvalue()
