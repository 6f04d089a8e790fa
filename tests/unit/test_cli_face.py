"""churnwatch's own face: the help, the version, Faust's options under `worker`, one-line errors
with documented exit codes, `churnwatch alerts` as a table with a summary, the simulate guard for
wall-clock workers and the dead-letter warning."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import orjson
from click.testing import CliRunner

from agents.cli import offline, wall_clock_problem
from agents.cli_main import cli, port_problem
from agents.dead_letter_watch import DeadLetterWatch
from agents.metrics import Metrics
from agents.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHURNWATCH = ROOT / ".venv" / "bin" / "churnwatch"
COMMANDS = ("worker", "notify", "alerts", "replay", "simulate", "rules", "fit", "backtest")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURNWATCH_")}
    return {**env, "CHURNWATCH_KAFKA_BOOTSTRAP": "127.0.0.1:1", **extra}


def test_help_lists_our_commands_one_line_each_and_the_environment() -> None:
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(cli, [flag])
        assert result.exit_code == 0, result.output
        text = result.output
        commands = text.split("Commands:")[1].split("Environment")[0]
        listed = [line.split()[0] for line in commands.splitlines() if line.strip()]
        assert listed == list(COMMANDS)  # one line each, in this order
        assert "faust-streaming.github.io" not in text and "livecheck" not in text  # not Faust's face
        for var in ("KAFKA_BOOTSTRAP", "CLOCK", "REDIS_URL", "NOTIFY_ROUTES"):
            assert f"CHURNWATCH_{var}" in text
        assert "Exit codes" in text


def test_version_is_churnwatchs() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"churnwatch {version('churnwatch')}"


def test_fausts_worker_options_stay_reachable_under_worker() -> None:
    proc = subprocess.run([str(CHURNWATCH), "worker", "--help"], capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--web-port" in proc.stdout and "--loglevel" in proc.stdout and "Usage: churnwatch worker" in proc.stdout
    alone = subprocess.run([str(CHURNWATCH), "worker", "-h"], capture_output=True, text=True, env=_env(), timeout=60)
    assert alone.returncode == 0 and alone.stdout == proc.stdout  # -h alone asks for help, not --web-host
    argv = [str(CHURNWATCH), "tables", "--help"]
    tables = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=60)
    assert tables.returncode == 0 and "List available tables" in tables.stdout  # Faust's other commands still work


def test_an_out_path_in_a_missing_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type":"login","event_id":"e1","customer_id":"c1","ts":1700000000}\n')
    for argv in (
        ["replay", str(events), "--out", str(tmp_path / "missing" / "alerts.jsonl")],
        ["simulate", "--customers", "2", "--days", "2", "--out", str(tmp_path / "missing" / "events.jsonl")],
    ):
        proc = subprocess.run([str(CHURNWATCH), *argv], capture_output=True, text=True, env=_env(), timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == (
            f"churnwatch: {tmp_path / 'missing' / argv[-1].rsplit('/', 1)[-1]}: No such file or directory"
        )


def test_a_web_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert port_problem("127.0.0.1", port) == f"port {port} on 127.0.0.1 is already in use"
        proc = subprocess.run(
            [str(CHURNWATCH), "worker", "-l", "info"],
            capture_output=True,
            text=True,
            env=_env(CHURNWATCH_WEB_PORT=str(port), CHURNWATCH_WEB_BIND="127.0.0.1"),
            timeout=60,
        )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"churnwatch: port {port} on 127.0.0.1 is already in use" in proc.stderr


def _alerts_file(tmp_path: Path) -> Path:
    events = tmp_path / "events.jsonl"
    runner = CliRunner()
    simulated = runner.invoke(offline, ["simulate", "--customers", "150", "--days", "40", "--out", str(events)])
    assert simulated.exit_code == 0
    out = tmp_path / "alerts.jsonl"
    assert runner.invoke(offline, ["replay", str(events), "--out", str(out)]).exit_code == 0
    return out


def test_alerts_from_a_replay_file_as_an_aligned_table_filtered_with_a_summary(tmp_path: Path) -> None:
    file = _alerts_file(tmp_path)
    alerts = [orjson.loads(line) for line in file.read_bytes().splitlines()]
    result = CliRunner().invoke(cli, ["alerts", str(file)])
    assert result.exit_code == 0, result.output
    table, summary = result.output.split("\n\n", 1)
    rows = table.splitlines()
    assert rows[0].split()[:4] == ["event", "time", "status", "tier"]
    assert len(rows) == len(alerts) + 1
    titles = ["event time", "status", "tier", "from", "customer", "score", "at risk", "rules"]
    starts: list[int] = []
    for title in titles:
        starts.append(rows[0].index(title, starts[-1] + 1 if starts else 0))
    for row in rows[1:]:  # every column starts (left-aligned) or ends (numbers) at the header's place
        for i, (title, start) in enumerate(zip(titles, starts, strict=True)):
            assert i == 0 or row[start - 2 : start] == "  " or title in ("score", "at risk"), row
            if title in ("score", "at risk"):
                end = start + len(title)
                assert row[end - 1] != " " and row[end : end + 2] == "  ", row
            else:
                assert row[start] != " ", row
    firing = sum(a["status"] == "firing" for a in alerts)
    assert summary.startswith(f"{len(alerts)} alerts ({firing} firing, {len(alerts) - firing} resolved)")
    assert "by tier:" in summary and "by rule (in firing alerts):" in summary
    critical = [a for a in alerts if a["tier"] == "critical"]
    filtered = CliRunner().invoke(cli, ["alerts", str(file), "--tier", "critical", "--no-summary"])
    assert len(filtered.output.strip().splitlines()) == len(critical) + 1
    one = alerts[0]["customer_id"]
    mine = CliRunner().invoke(cli, ["alerts", str(file), "--customer", one, "--count"])
    assert int(mine.output) == sum(a["customer_id"] == one for a in alerts)
    rule = alerts[0]["rules"][0]["rule"]
    by_rule = CliRunner().invoke(cli, ["alerts", str(file), "--rule", rule, "--count"])
    assert int(by_rule.output) == sum(any(r["rule"] == rule for r in a["rules"]) for a in alerts)
    limited = CliRunner().invoke(cli, ["alerts", str(file), "--limit", "3"])
    assert f"... {len(alerts) - 3} more not shown (--limit 3)" in limited.output
    missing = CliRunner().invoke(cli, ["alerts", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_simulate_refuses_history_a_wall_clock_worker_would_dead_letter() -> None:
    now = time.time()
    wall = Settings(clock="wall")  # type: ignore[call-arg]
    problem = wall_clock_problem(wall, now, 45)
    assert problem is not None and "CHURNWATCH_CLOCK=event" in problem and "too_late" in problem
    assert wall_clock_problem(wall, now, 3) is None
    assert wall_clock_problem(Settings(clock="event"), now, 45) is None  # type: ignore[call-arg]


def test_a_worker_dead_lettering_a_large_share_says_so_once_per_interval() -> None:
    metrics = Metrics()
    watch = DeadLetterWatch(metrics, Settings(clock="wall"))  # type: ignore[call-arg]
    assert watch.check() is None
    metrics.events.labels("logins", "applied").inc(60)
    metrics.events.labels("logins", "dead_letter").inc(40)
    metrics.dead_letters.labels("too_late").inc(35)
    metrics.dead_letters.labels("schema").inc(5)
    warning = watch.check()
    assert warning is not None
    assert warning.startswith("40 of 100 input messages (40%)") and "top reason too_late (35)" in warning
    assert "CHURNWATCH_CLOCK=event" in warning
    assert watch.check() is None  # nothing new in the next interval
    metrics.events.labels("logins", "applied").inc(100)
    metrics.dead_letters.labels("schema").inc(1)
    assert watch.check() is None  # 1% is not a large share
