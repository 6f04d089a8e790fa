"""Offline measurements of the engine: replay speed, memory per customer, tick cost.

Each measurement runs in a fresh child process (``python -m bench.replay engine|memory ...``) so
that one measurement's garbage, imports or failure does not bend another's numbers; the child
prints one JSON object on its last stdout line. A child that cannot import the product code it
needs reports ``status: skipped`` with the missing module.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.results import GOAL_REPLAY_EPS, RESULTS_DIR
from bench.sizes import Size
from bench.synth import DAY, live_mix, memory_set

REPO = Path(__file__).resolve().parent.parent


LOOP_RUNS = 5  # runs of the replay loop (child_engine): the median is the row, the fastest beside it

# ---------------------------------------------------------------- orchestrator side


def _venv_bin(name: str) -> str:
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else name


def run_child(args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m bench.replay ARGS``; the result is its last JSON line (or an error)."""
    cmd = [sys.executable, "-m", "bench.replay", *args]
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                out: dict[str, Any] = orjson.loads(line)
                return out
            except orjson.JSONDecodeError:
                break
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"status": "error", "reason": f"exit {proc.returncode}: {' | '.join(tail)[-400:]}"}


def simulated_events(size: Size) -> tuple[Iterator[dict[str, Any]], str]:
    """The replay mix: ``streams.simulate`` when it is there, else :func:`bench.synth.live_mix`."""
    try:
        from streams.simulate import SimConfig, generate
    except ImportError as exc:
        end = math.floor(time.time() / DAY) * DAY
        n = size.replay_max_events
        why = f"bench.synth.live_mix (streams.simulate unavailable: {exc})"
        return live_mix(n, size.replay_customers, end - size.replay_days * DAY, end), why
    fields = {f.name for f in dataclasses.fields(SimConfig)}
    kwargs: dict[str, Any] = {"customers": size.replay_customers, "days": size.replay_days, "seed": 42}
    if "start" in fields:
        kwargs["start"] = math.floor(time.time() / DAY) * DAY - size.replay_days * DAY
    cfg = SimConfig(**{k: v for k, v in kwargs.items() if k in fields})
    return iter(generate(cfg)), f"streams.simulate {cfg!r}"


def write_replay_file(size: Size, path: Path) -> tuple[int, str]:
    events, source = simulated_events(size)
    n = 0
    with path.open("wb") as fh:
        for ev in events:
            if n >= size.replay_max_events:
                break
            fh.write(orjson.dumps(ev) + b"\n")
            n += 1
    return n, source


def measure_replay(size: Size, workdir: Path, profile_dir: Path | None = RESULTS_DIR) -> dict[str, Any]:
    """Replay speed over a simulated file; profiles the loop into ``profile_dir`` when below the goal."""
    path = workdir / "replay-events.jsonl"
    try:
        n, source = write_replay_file(size, path)
    except Exception as exc:  # the simulator is someone else's code: report, don't crash the run
        return {"status": "error", "reason": f"generating events: {type(exc).__name__}: {exc}"}
    # the mypyc-compiled core first (agents.core; `make compile` builds it): the headline row, taken
    # as soon as the file is written (on a shared machine a quiet spell may not outlast the pure run
    # and its profile); not profiled: pyinstrument does not see inside compiled functions
    compiled = run_child(["engine", "--file", str(path), "--core", "compiled"], timeout=600)
    args = ["engine", "--file", str(path), "--core", "pure"]
    if profile_dir is not None:
        args += ["--profile-below", str(GOAL_REPLAY_EPS), "--profile-out", str(profile_dir / "profile-replay.txt")]
    result = run_child(args, timeout=600)
    result.update({"events": n, "source": source, "file_bytes": path.stat().st_size, "compiled": compiled})
    if result.get("status") in ("ok", "partial"):
        result.update(measure_cli(path, n))
        result["status"] = "ok"
    return result


def measure_cli(path: Path, n: int) -> dict[str, Any]:
    """Wall time of the whole ``churnwatch replay FILE --out /dev/null`` command (start-up included)."""
    exe = _venv_bin("churnwatch")
    cmd = [exe, "replay", str(path), "--out", os.devnull]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"cli_status": "error", "cli_reason": str(exc)}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])[-300:]
        return {"cli_status": "error", "cli_reason": f"exit {proc.returncode}: {tail}", "cli_seconds": wall}
    return {"cli_status": "ok", "cli_seconds": wall, "cli_eps": n / wall if wall > 0 else None}


def measure_memory(size: Size) -> tuple[dict[str, Any], dict[str, Any]]:
    """(memory result with one run per customer count, tick result)."""
    runs: list[dict[str, Any]] = []
    tick: dict[str, Any] = {"status": "skipped", "reason": "no run at the tick size"}
    counts = list(size.memory_customers)
    if size.tick_customers not in counts:
        counts.append(size.tick_customers)
    problems: list[str] = []
    for n in sorted(counts):
        args = ["memory", "--customers", str(n), "--events-per-customer", str(size.memory_events_per_customer)]
        args += ["--due-share", str(size.tick_due_share)]
        if n == size.tick_customers:
            args.append("--tick")
        res = run_child(args, timeout=900)
        if res.get("status") != "ok":
            problems.append(f"{n:,} customers: {res.get('status')}: {res.get('reason', '')}")
            if res.get("status") == "skipped":
                return {"status": "skipped", "reason": res.get("reason", "")}, dict(res)
            continue
        t = res.pop("tick", None)
        if isinstance(t, dict):
            tick = {"status": "ok", "customers": n, "due_share": size.tick_due_share, **t}
        if n in size.memory_customers:
            runs.append(res)
    if not runs:
        return {"status": "error", "reason": "; ".join(problems)}, tick
    mem: dict[str, Any] = {"status": "ok", "runs": runs}
    if problems:
        mem["problems"] = problems
    return mem, tick


# ---------------------------------------------------------------- child side


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _engine(store: dict[str, bytes] | None = None) -> Any:
    from agents.pack_file import load_pack
    from agents.settings import DEFAULT_RULES
    from rules.engine import Engine, EngineConfig

    return Engine(load_pack(DEFAULT_RULES), EngineConfig(), store=store)


def _replay_engine(store: dict[str, bytes] | None = None) -> Any:
    """The engine as ``churnwatch replay`` builds it (``agents.engine_setup.offline_engine``: changed
    customers committed by their number only, no decoded cache, no at-risk map), default pack and
    settings, one partition (replay's default)."""
    from agents.engine_setup import offline_engine
    from agents.pack_file import load_pack
    from agents.settings import DEFAULT_RULES
    from rules.engine import EngineConfig

    return offline_engine(load_pack(DEFAULT_RULES), EngineConfig(), store)


def _evaluated(engine: Any, before: Any) -> int | None:
    """Customers evaluated by the last tick, when the engine exposes a counter for it."""
    for name in ("last_tick_evaluated", "tick_evaluated", "evaluated_last_tick"):
        v = getattr(engine, name, None)
        if isinstance(v, int):
            return v
    for name in ("evaluations", "evaluated_total", "tick_evaluations"):
        v = getattr(engine, name, None)
        if isinstance(v, int) and isinstance(before, int):
            return v - before
    return None


def _eval_counter(engine: Any) -> int | None:
    for name in ("evaluations", "evaluated_total", "tick_evaluations"):
        v = getattr(engine, name, None)
        if isinstance(v, int):
            return v
    return None


def _count_evaluations() -> list[int]:
    """Count calls of ``RulePack.evaluate`` (one per customer evaluated); [-1] if it cannot be wrapped."""
    counter = [0]
    try:
        from rules.pack import RulePack

        method = "evaluate"
        original = getattr(RulePack, method)

        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            counter[0] += 1
            return original(self, *args, **kwargs)

        setattr(RulePack, method, counted)
    except (ImportError, AttributeError, TypeError):
        counter[0] = -1
    return counter


def child_engine(path: Path, profile_below: float | None, profile_out: Path | None, core: str) -> dict[str, Any]:
    from agents.core import select_core

    if select_core(core) != core:  # a compiled core that cannot run (select_core said why on stderr)
        return {"status": "skipped", "reason": "no compiled core of these sources (make compile)"}
    from agents.gc_tuning import quiet_gc_during
    from streams.parse import parse_line

    lines = path.read_bytes().splitlines()
    n = len(lines)
    # Parse only.
    t0 = time.perf_counter()
    events = [parse_line(line) for line in lines]
    parse_s = time.perf_counter() - t0
    # engine.process only, over pre-parsed events.
    engine = _replay_engine({})
    with quiet_gc_during():
        t0 = time.perf_counter()
        for ev in events:
            engine.process(ev)
        engine.finish()
        process_s = time.perf_counter() - t0
    del events, engine
    gc.collect()
    # The replay loop: parse + process, as `churnwatch replay` runs it after reading and sorting
    # (its engine, its collector thresholds); run LOOP_RUNS times with a fresh engine, the median
    # kept (one run is under a second, and this machine's neighbours move one run by tens of
    # percent), the fastest beside it.
    runs: list[float] = []
    for _ in range(LOOP_RUNS):
        store: dict[str, bytes] = {}
        engine = _replay_engine(store)
        alerts = 0
        with quiet_gc_during():
            t0 = time.perf_counter()
            for line in lines:
                alerts += len(engine.process(parse_line(line)))
            alerts += len(engine.finish())
            runs.append(time.perf_counter() - t0)
        del engine
        gc.collect()
    loop_s = statistics.median(runs)
    result: dict[str, Any] = {
        "status": "ok",
        "core": core,
        "events": n,
        "customers": len(store),
        "alerts": alerts,
        "parse_seconds": parse_s,
        "parse_eps": n / parse_s if parse_s else None,
        "process_seconds": process_s,
        "process_eps": n / process_s if process_s else None,
        "engine_seconds": loop_s,
        "engine_eps": n / loop_s if loop_s else None,
        "engine_eps_best": n / min(runs) if min(runs) else None,
        "engine_eps_runs": [round(n / r) for r in runs if r],
        "state_bytes_per_customer": sum(len(v) for v in store.values()) / max(len(store), 1),
    }
    if profile_below is not None and (result["engine_eps"] or 0) < profile_below:
        from bench.profiling import profile_call

        sample = lines[: min(n, 200_000)]

        def loop() -> None:
            eng = _replay_engine({})
            for line in sample:
                eng.process(parse_line(line))
            eng.finish()

        top, text = profile_call(loop)
        result["profile"] = {"events": len(sample), "top_self": top}
        if profile_out is not None:
            profile_out.parent.mkdir(parents=True, exist_ok=True)
            profile_out.write_text(text)
            result["profile"]["file"] = str(
                profile_out.relative_to(REPO) if profile_out.is_relative_to(REPO) else profile_out
            )
    return result


def child_memory(customers: int, k: int, due_share: float, tick: bool) -> dict[str, Any]:
    import psutil  # noqa: F401  (fail early, before the measurement)

    _engine({})  # import and warm everything before the baseline
    base = math.floor(time.time() / DAY) * DAY - 30 * DAY + 0.05 * DAY
    gc.collect()
    rss0 = _rss()
    store: dict[str, bytes] = {}
    engine = _engine(store)
    events = 0
    t0 = time.perf_counter()
    for ev in memory_set(customers, k, base, due_share):
        engine.process(ev)
        events += 1
    load_s = time.perf_counter() - t0
    gc.collect()
    rss1 = _rss()
    n = len(store)
    value_bytes = sum(len(v) for v in store.values())
    key_bytes = sum(len(key) for key in store)
    result: dict[str, Any] = {
        "status": "ok",
        "customers": n,
        "events": events,
        "load_seconds": load_s,
        "load_eps": events / load_s if load_s else None,
        "rss_delta_bytes": rss1 - rss0,
        "rss_bytes_per_customer": (rss1 - rss0) / max(n, 1),
        "state_bytes_per_customer": value_bytes / max(n, 1),
        "key_bytes_per_customer": key_bytes / max(n, 1),
    }
    if tick:
        counter = _count_evaluations()
        clock = float(engine.clock or base)
        t = (math.floor(clock / DAY) + 1) * DAY
        ticks = []
        for i in range(3):
            before = _eval_counter(engine)
            calls = counter[0]
            t0 = time.perf_counter()
            alerts = engine.tick(t + i * DAY)
            secs = time.perf_counter() - t0
            evaluated = _evaluated(engine, before)
            if evaluated is None and counter[0] >= 0:
                evaluated = counter[0] - calls
            ticks.append({"t": t + i * DAY, "seconds": secs, "alerts": len(alerts), "evaluated": evaluated})
        first = ticks[0]
        result["tick"] = {
            "seconds_per_tick": first["seconds"],
            "evaluated_per_tick": first["evaluated"],
            "alerts_first_tick": first["alerts"],
            "expected_due": math.ceil(customers * due_share),
            "ticks": ticks,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("engine", help="replay loop over a JSON Lines file")
    e.add_argument("--file", type=Path, required=True)
    e.add_argument("--profile-below", type=float, default=None)
    e.add_argument("--profile-out", type=Path, default=None)
    e.add_argument("--core", choices=("pure", "compiled"), default="pure", help="agents.core.select_core")
    m = sub.add_parser("memory", help="memory per customer (and tick cost) over a minimal event set")
    m.add_argument("--customers", type=int, required=True)
    m.add_argument("--events-per-customer", type=int, default=4)
    m.add_argument("--due-share", type=float, default=0.01)
    m.add_argument("--tick", action="store_true")
    a = p.parse_args(argv)
    try:
        if a.cmd == "engine":
            result = child_engine(a.file, a.profile_below, a.profile_out, a.core)
        else:
            result = child_memory(a.customers, a.events_per_customer, a.due_share, a.tick)
    except ImportError as exc:
        result = {"status": "skipped", "reason": f"not available yet: {exc}"}
    except Exception as exc:
        result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
