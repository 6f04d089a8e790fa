"""`churnwatch replay` and `churnwatch simulate`: the offline door over the engine."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
from click.testing import CliRunner

from agents.cli import offline
from streams.parse import parse_line
from streams.simulate import SimConfig, churners, generate

ROOT = Path(__file__).resolve().parents[2]


def test_generator_is_deterministic_valid_and_mixed() -> None:
    cfg = SimConfig(customers=200, days=40, seed=3)
    a = list(generate(cfg))
    assert a == list(generate(cfg))
    assert a != list(generate(SimConfig(customers=200, days=40, seed=4)))
    events = [parse_line(orjson.dumps(e)) for e in a]
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert {e["type"] for e in a} == {"login", "order", "payment", "support_ticket"}
    kinds = Counter(churners(cfg).values())
    assert set(kinds) == {"fading_logins", "failed_payments", "angry_tickets", "pauses"}


def _simulate(tmp_path: Path, customers: int = 300, days: int = 50) -> Path:
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        offline, ["simulate", "--customers", str(customers), "--days", str(days), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_replay_writes_alerts_and_a_summary(tmp_path: Path) -> None:
    events = _simulate(tmp_path)
    out1, out2 = tmp_path / "a1.jsonl", tmp_path / "a2.jsonl"
    r1 = CliRunner().invoke(offline, ["replay", str(events), "--out", str(out1)])
    assert r1.exit_code == 0, r1.output
    assert "replay:" in r1.output and "customers" in r1.output and "alerts" in r1.output
    CliRunner().invoke(offline, ["replay", str(events), "--out", str(out2)])
    a1 = [orjson.loads(line) for line in out1.read_bytes().splitlines()]
    a2 = [orjson.loads(line) for line in out2.read_bytes().splitlines()]
    for a in a1 + a2:
        a.pop("emitted_at")
    assert a1 == a2 and a1  # same input, same alerts (emitted_at aside)
    mix = Counter(a["tier"] for a in a1 if a["status"] == "firing")
    fired = {a["customer_id"] for a in a1 if a["status"] == "firing"}
    assert mix["watch"] and mix["critical"] and len(fired) < 300 * 0.6
    churning = set(churners(SimConfig(customers=300, days=50)))
    assert len(churning & fired) >= 0.9 * len(churning)


def test_replay_sorts_by_event_time_across_files(tmp_path: Path) -> None:
    events = _simulate(tmp_path, customers=50, days=30)
    lines = events.read_bytes().splitlines()
    (tmp_path / "late.jsonl").write_bytes(b"\n".join(lines[1::2]) + b"\n")
    (tmp_path / "early.jsonl").write_bytes(b"\n".join(lines[0::2]) + b"\n")
    whole, split = tmp_path / "w.jsonl", tmp_path / "s.jsonl"
    CliRunner().invoke(offline, ["replay", str(events), "--out", str(whole)])
    CliRunner().invoke(
        offline, ["replay", str(tmp_path / "late.jsonl"), str(tmp_path / "early.jsonl"), "--out", str(split)]
    )

    def ids(p: Path) -> list[str]:
        return [orjson.loads(line)["alert_id"] for line in p.read_bytes().splitlines()]

    assert ids(whole) == ids(split)


def test_bad_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    events = _simulate(tmp_path, customers=20, days=10)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"type": "login", "event_id": "x", "customer_id": "c-1", "ts": "soon"}\nnot json\n\n')
    result = subprocess.run(
        [sys.executable, "-m", "agents.cli", "replay", str(bad), str(events)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1
    assert f'{bad}:1: schema: field "ts"' in result.stderr
    assert f"{bad}:2: invalid_json" in result.stderr
    assert "2 bad lines" in result.stderr


def test_tick_seconds_option(tmp_path: Path) -> None:
    events = _simulate(tmp_path, customers=60, days=30)
    hourly = CliRunner().invoke(offline, ["replay", str(events), "--tick-seconds", "3600"])
    assert hourly.exit_code == 0
    times = [orjson.loads(line)["event_time"] for line in hourly.stdout.splitlines() if line.startswith("{")]
    assert any(t.endswith(":00:00Z") and not t.endswith("T00:00:00Z") for t in times)


def test_unusable_rule_pack_is_a_usage_error(tmp_path: Path) -> None:
    events = _simulate(tmp_path, customers=5, days=5)
    pack = tmp_path / "pack.yaml"
    pack.write_text("version: 1\nrules: []\n")
    result = CliRunner().invoke(offline, ["replay", str(events), "--rules", str(pack)])
    assert result.exit_code == 2 and "'rules' must be a non-empty list" in result.output
