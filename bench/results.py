"""The results of a run: goals, the table (text and Markdown) and the JSON file.

A run's JSON holds ``machine``, ``size``, ``measurements`` (one dict per measurement, each with a
``status`` of ``ok``, ``skipped`` or ``error``) and ``rows`` (the table). :func:`build_rows` is the
one place that turns measurements into table rows and checks them against the goals.
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# The goals the table compares against (issue "Benchmarks: how fast, how much memory, against what").
GOAL_REPLAY_EPS = 150_000.0
GOAL_LIVE_EPS = 30_000.0
GOAL_LIVE_RAW_SHARE = 0.5
GOAL_P99_MS = 100.0
GOAL_P99_RATE = 5_000
GOAL_STATE_BYTES = 600.0
GOAL_SCALE_FLAT = 0.9  # replay events/s at the largest size >= 90% of the smallest's
GOAL_WORKER_RSS_TO_STATE = 3.0  # worker RSS per customer <= 3 x its encoded state (memory store)


@dataclass
class Row:
    key: str
    label: str
    value: float | None
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""


def _m(measurements: dict[str, Any], name: str) -> dict[str, Any]:
    m = measurements.get(name)
    return m if isinstance(m, dict) else {}


def _ok(m: dict[str, Any]) -> bool:
    return m.get("status") == "ok"


def _why(m: dict[str, Any]) -> str:
    if not m:
        return "not run"
    return f"{m.get('status', '?')}: {m.get('reason', '')}".strip()


def _num(m: dict[str, Any], key: str) -> float | None:
    v = m.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def _ge(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def _le(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target


def build_rows(measurements: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []

    def add(key: str, label: str, m: dict[str, Any], field: str, unit: str, goal: str = "", met: object = None) -> None:
        value = _num(m, field) if _ok(m) else None
        note = "" if _ok(m) else _why(m)
        ok_met = met(value) if callable(met) and value is not None else None
        rows.append(Row(key, label, value, unit, goal, ok_met, note))

    rep = _m(measurements, "replay")
    # the compiled core (mypyc, agents.core) first: what `churnwatch replay` runs once built
    compiled = _m(rep, "compiled") if _ok(rep) else rep
    for key, core, m in (("replay_compiled", "compiled core", compiled), ("replay", "pure Python", rep)):
        add(
            f"{key}_engine_eps",
            f"replay: engine loop, parse + process, 1 core, {core}",
            m,
            "engine_eps",
            "events/s",
            f">= {GOAL_REPLAY_EPS:,.0f}",
            lambda v: _ge(v, GOAL_REPLAY_EPS),
        )
        label = f"replay: engine loop, parse + process, 1 core, {core}: fastest of the runs"
        add(f"{key}_engine_eps_best", label, m, "engine_eps_best", "events/s")
        add(f"{key}_process_eps", f"replay: engine.process only (pre-parsed), {core}", m, "process_eps", "events/s")
        add(f"{key}_parse_eps", f"replay: parse_line only, {core}", m, "parse_eps", "events/s")
    cli = {"status": rep.get("cli_status", rep.get("status")), "reason": rep.get("cli_reason", rep.get("reason", ""))}
    cli.update({k: v for k, v in rep.items() if k.startswith("cli_")})
    add("replay_cli_eps", "replay: whole `churnwatch replay` command", cli if rep else rep, "cli_eps", "events/s")
    add(
        "replay_state_bytes",
        "state bytes per customer, the simulated mix of the replay",
        rep,
        "state_bytes_per_customer",
        "bytes",
        f"<= {GOAL_STATE_BYTES:.0f}",
        lambda v: _le(v, GOAL_STATE_BYTES),
    )

    mem = _m(measurements, "memory")
    runs = mem.get("runs") if _ok(mem) else None
    if isinstance(runs, list) and runs:
        for run in runs:
            n = int(run.get("customers", 0))
            sub = {"status": "ok", **run}
            add(
                f"memory_state_bytes_{n}",
                f"state bytes per customer, {n:,} customers",
                sub,
                "state_bytes_per_customer",
                "bytes",
                f"<= {GOAL_STATE_BYTES:.0f}",
                lambda v: _le(v, GOAL_STATE_BYTES),
            )
            add(f"memory_rss_bytes_{n}", f"RSS per customer, {n:,} customers", sub, "rss_bytes_per_customer", "bytes")
    else:
        add("memory_state_bytes", "state bytes per customer", mem, "state_bytes_per_customer", "bytes")

    tick = _m(measurements, "tick")
    tick_label = "tick cost"
    if _ok(tick):
        tick_label = f"tick, {int(tick.get('customers', 0)):,} customers, ~{tick.get('due_share', 0):.0%} due"
    add("tick_seconds", tick_label + ": seconds per tick", tick, "seconds_per_tick", "s")
    add("tick_evaluated", tick_label + ": customers evaluated", tick, "evaluated_per_tick", "customers")

    live = _m(measurements, "live_worker")
    raw = _m(measurements, "raw_aiokafka")
    faust_noop = _m(measurements, "faust_noop")
    quix = _m(measurements, "quix")
    add(
        "live_worker_eps",
        "live: one `churnwatch worker`",
        live,
        "eps",
        "events/s",
        f">= {GOAL_LIVE_EPS:,.0f}",
        lambda v: _ge(v, GOAL_LIVE_EPS),
    )
    add("live_worker_cpu_eps", "live: worker events per CPU-second", live, "eps_per_cpu_second", "events/s")
    add("raw_aiokafka_eps", "ceiling: raw aiokafka consume, no work", raw, "eps", "events/s")
    add("faust_noop_eps", "ceiling: Faust agent, no work", faust_noop, "eps", "events/s")
    share: float | None = None
    w, r = _num(live, "eps"), _num(raw, "eps")
    if _ok(live) and _ok(raw) and w is not None and r:
        share = w / r
    rows.append(
        Row(
            "live_worker_raw_share",
            "live: worker / raw aiokafka",
            share,
            "ratio",
            f">= {GOAL_LIVE_RAW_SHARE:.0%}",
            _ge(share, GOAL_LIVE_RAW_SHARE),
            "" if share is not None else "needs both live measurements",
        )
    )
    fn = _num(faust_noop, "eps")
    if _ok(live) and _ok(faust_noop) and w is not None and fn:
        rows.append(Row("live_worker_faust_share", "live: worker / Faust no-op agent", w / fn, "ratio", "", None, ""))
    add("quix_eps", "peer: Quix Streams, same rolling counts", quix, "eps", "events/s")
    add("quix_cpu_eps", "peer: Quix Streams events per CPU-second", quix, "eps_per_cpu_second", "events/s")
    q = _num(quix, "eps")
    faster = (w > q) if (_ok(live) and _ok(quix) and w is not None and q is not None) else None
    rows.append(
        Row(
            "live_worker_vs_quix",
            "live: worker / Quix Streams",
            (w / q) if faster is not None and w is not None and q else None,
            "ratio",
            "> 1 (faster)",
            faster,
            "" if faster is not None else "needs worker and Quix measurements",
        )
    )

    lat = _m(measurements, "latency")
    lat_runs = lat.get("runs") if _ok(lat) else None
    if isinstance(lat_runs, list) and lat_runs:
        for run in lat_runs:
            rate = int(run.get("rate", 0))
            sub = {"status": "ok" if run.get("alerts") else "error", "reason": run.get("reason", "no alerts"), **run}
            for pct in ("p50", "p99", "max"):
                goal, met = "", None
                if pct == "p99" and rate == GOAL_P99_RATE:
                    goal, met = f"<= {GOAL_P99_MS:.0f} ms", (lambda v: _le(v, GOAL_P99_MS))
                add(
                    f"latency_{pct}_{rate}",
                    f"event-to-alert {pct} at {rate:,} events/s",
                    sub,
                    f"{pct}_ms",
                    "ms",
                    goal,
                    met,
                )
    else:
        add("latency_p99", "event-to-alert p99", lat, "p99_ms", "ms", f"<= {GOAL_P99_MS:.0f} ms at 5,000/s")
    rows.extend(scale_rows(measurements))
    return rows


def scale_rows(measurements: dict[str, Any]) -> list[Row]:
    """The scale part: replay at each size and store, the flat-cost ratio, worker RSS per customer."""
    rows: list[Row] = []
    rep = _m(measurements, "scale_replay")
    for run in rep.get("runs", []) if _ok(rep) else []:
        n, store = int(run.get("customers", 0)), str(run.get("store", "")).rstrip(":/")
        key, what = f"scale_{store}_{n}", f"scale: replay, {n:,} customers, {store}"
        if run.get("status") != "ok":
            rows.append(Row(key + "_eps", what, None, "events/s", "", None, _why(run)))
            continue
        rows.append(Row(key + "_eps", what, _num(run, "eps"), "events/s"))
        rows.append(Row(key + "_eps_cpu", what + ": per CPU-second", _num(run, "eps_cpu"), "events/s"))
        peak, bound = _num(run, "peak_rss_bytes"), _num(run, "rss_goal_bytes")
        met = _le(peak, bound) if store == "memory" and bound is not None else None
        limit = f"<= {bound / 1e6:,.0f} MB" if store == "memory" and bound is not None else ""
        rows.append(Row(key + "_rss", what + ": peak RSS", None if peak is None else peak / 1e6, "MB", limit, met))
    for store in ("memory", "rocksdb"):
        ratio = _num(rep, f"flat_ratio_{store}") if _ok(rep) else None
        if ratio is not None:
            label = f"scale: replay events per CPU-second, largest / smallest size, {store}"
            flat = f">= {GOAL_SCALE_FLAT:.0%}"
            rows.append(Row(f"scale_flat_{store}", label, ratio, "ratio", flat, _ge(ratio, GOAL_SCALE_FLAT)))
    if rep and not _ok(rep):
        rows.append(Row("scale_replay", "scale: replay", None, "events/s", "", None, _why(rep)))
    rows.extend(_scale_worker_rows(_m(measurements, "scale_worker")))
    return rows


def _scale_worker_rows(wrk: dict[str, Any]) -> list[Row]:
    """The worker's RSS per customer at each size (the median of the repeats), then the marginal
    per customer between the sizes (median of the repeats); the memory store's against 3 x the
    encoded state."""
    rows: list[Row] = []
    if wrk and not _ok(wrk):
        return [Row("scale_worker", "scale: worker RSS per customer", None, "bytes", "", None, _why(wrk))]
    state = _num(wrk, "state_bytes_per_customer")
    cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in wrk.get("runs", []):
        cells.setdefault((str(run.get("store", "")).rstrip(":/"), int(run.get("customers", 0))), []).append(run)

    def goal_of(store: str, value: float | None) -> tuple[str, bool | None]:
        if store != "memory" or not state:
            return "", None
        goal = f"<= {GOAL_WORKER_RSS_TO_STATE * state:,.0f} (3 x {state:,.0f} encoded)"
        return goal, _le(value, GOAL_WORKER_RSS_TO_STATE * state)

    for (store, n), runs in cells.items():
        values = [v for r in runs if r.get("status") == "ok" and (v := _num(r, "rss_bytes_per_customer")) is not None]
        value = statistics.median(values) if values else None
        label = f"scale: worker RSS per customer, {n:,} customers, {store}"
        goal, met = goal_of(store, value)
        rows.append(Row(f"scale_worker_{store}_{n}", label, value, "bytes", goal, met, "" if value else _why(runs[0])))
    for store in ("memory", "rocksdb"):
        marginal = _num(wrk, f"marginal_{store}")
        if marginal is not None:
            label = f"scale: worker RSS per customer more (marginal between the sizes), {store}"
            goal, met = goal_of(store, marginal)
            rows.append(Row(f"scale_worker_marginal_{store}", label, marginal, "bytes", goal, met))
        fixed = _num(wrk, f"fixed_{store}")
        if fixed is not None:
            label = f"scale: worker RSS a backlog leaves whatever its customers (fixed growth), {store}"
            rows.append(Row(f"scale_worker_fixed_{store}", label, fixed / 1e6, "MB"))
    return rows


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit in ("customers", "events"):
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:,.0f}"
    if unit in ("s", "ms"):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: ""}[met]


def render_text(rows: list[Row]) -> str:
    header = ("measurement", "value", "unit", "goal", "", "note")
    body = [(r.label, _fmt(r.value, r.unit), r.unit, r.goal, _verdict(r.met), r.note) for r in rows]
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(len(header))]
    widths[-1] = min(widths[-1], 60)
    lines = []
    for i, cols in enumerate([header, *body]):
        cells = [str(c)[: widths[j]] for j, c in enumerate(cols)]
        line = "  ".join(
            cells[j].rjust(widths[j]) if j == 1 else cells[j].ljust(widths[j]) for j in range(len(cells))
        ).rstrip()
        lines.append(line)
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _build(machine: dict[str, Any]) -> str:
    """The interpreter's build (its date and compiler) in brackets, when the report has it."""
    build = machine.get("python_build")
    return f" ({build})" if build else ""


def render_markdown(report: dict[str, Any]) -> str:
    rows = [Row(**r) for r in report.get("rows", [])]
    machine = report.get("machine", {})
    libs = machine.get("libraries") or {}
    size_name = (report.get("size") or {}).get("name", "?")
    out = [
        f"Benchmark `{report.get('command', 'python -m bench run')}` (size `{size_name}`), "
        f"{report.get('started_at', '?')}, {report.get('duration_seconds', 0):.0f} s.",
        "",
        f"Machine: {machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores, "
        f"Python {machine.get('python', '?')}{_build(machine)}, Kafka {machine.get('kafka') or '?'}, "
        + ", ".join(f"{k} {v}" for k, v in libs.items() if v),
        "",
        "| measurement | value | unit | goal | |",
        "|---|---:|---|---|---|",
    ]
    for r in rows:
        value = _fmt(r.value, r.unit) if r.value is not None else f"- ({r.note})" if r.note else "-"
        out.append(f"| {r.label} | {value} | {r.unit} | {r.goal} | {_verdict(r.met)} |")
    notes = report.get("notes") or []
    if notes:
        out.append("")
        out.extend(f"- {n}" for n in notes)
    profiles = report.get("profiles") or {}
    for name, prof in profiles.items():
        top = prof.get("top_self") or []
        if not top:
            continue
        out += ["", f"Profile `{name}` (share of samples by function, self time):", ""]
        out += ["| function | where | self | total |", "|---|---|---:|---:|"]
        for t in top[:12]:
            out.append(f"| `{t['function']}` | {t['where']} | {t['self_share']:.1%} | {t.get('total_share', 0):.1%} |")
    return "\n".join(out) + "\n"


def write_report(report: dict[str, Any], directory: Path = RESULTS_DIR, stem: str = "latest") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` atomically; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    for path, data in (
        (json_path, orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"),
        (md_path, render_markdown(report).encode()),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return json_path, md_path


def rows_to_dicts(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
