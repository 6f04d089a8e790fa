"""Cost against size: replay at several customer counts, and the worker's memory per customer.

Replay rows: for each customer count of the size, ``churnwatch simulate --days D`` writes a file
(the same mix at every size, so events per customer stay the same), then ``churnwatch replay FILE
--out /dev/null --store S`` runs in a fresh process for each store (``memory://``, ``rocksdb://``).
Events/s is the replay's own figure (reading, sorting, the engine and writing; start-up excluded);
events per CPU-second divide the events by the process's user + system time less that of a replay
of one event (start-up), which the other work of a shared machine does not move. Peak RSS is the
process's maximum resident set (``wait4``), and the encoded state is the replay's own total at the
end. A flat cost means the events per CPU-second of the largest size stay within 10% of the
smallest's.

Worker rows: one ``churnwatch worker`` per store and customer count on fresh topics; its RSS
(worker and children, psutil) once it is idle after start-up, and again after it has consumed one
login and one order for each customer; the difference per customer is set beside the encoded state
per customer the same events make (measured in this process with the engine). The marginal per
customer is the difference of those growths between the largest and the smallest customer count
(what a customer more costs, the worker's fixed growth left out), and that fixed growth itself.
The fixed growth moves by several MB between runs with the machine's other work (how far the
backlog runs ahead), so the sizes are far apart (100k and 1M at full); runs may be repeated
(``scale_worker_repeats``) and the rows are then medians.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.sizes import Size
from bench.synth import customer_id, filler_login, rfc3339

REPO = Path(__file__).resolve().parent.parent
STORES = ("memory://", "rocksdb://")
SUMMARY = re.compile(
    r"replay: (?P<events>\d+) events .*?(?P<customers>\d+) customers.*?(?P<eps>[\d,]+) events/s; "
    r"state [\d,.]+ MB encoded \((?P<per>[\d,]+) B/customer\)"
)
# The end of the simulated period: fixed, so every run at every size sees the same calendar.
SIM_END = 1_767_225_600  # 2026-01-01T00:00:00Z


def _exe() -> str:
    cand = Path(sys.executable).parent / "churnwatch"
    return str(cand) if cand.exists() else "churnwatch"


@dataclass
class Measured:
    code: int
    wall: float
    cpu: float  # user + system seconds of the process
    peak_rss: int  # bytes
    stderr: str


def run_measured(cmd: list[str], timeout: float) -> Measured:
    """One command in a fresh process: exit code, wall and CPU seconds, peak RSS (``wait4``), stderr."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, text=True)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(proc.returncode, wall, cpu, int(usage.ru_maxrss) * 1024, text)


def start_up_cpu(workdir: Path) -> float:
    """CPU seconds of a replay of one event: start-up and shut-down, taken off every run's CPU."""
    path = workdir / "scale-one.jsonl"
    path.write_text('{"type":"login","event_id":"e1","customer_id":"c-1","ts":1767225000}\n')
    try:
        runs = [run_measured([_exe(), "replay", str(path), "--out", os.devnull], 120) for _ in range(3)]
    finally:
        path.unlink(missing_ok=True)
    return min(r.cpu for r in runs)


def replay_run(path: Path, customers: int, store: str, timeout: float, base_cpu: float = 0.0) -> dict[str, Any]:
    cmd = [_exe(), "replay", str(path), "--out", os.devnull, "--store", store]
    m = run_measured(cmd, timeout)
    code, wall, rss, err = m.code, m.wall, m.peak_rss, m.stderr
    match = SUMMARY.search(err)
    if code != 0 or match is None:
        tail = " | ".join(err.strip().splitlines()[-3:])[-400:]
        return {"status": "error", "customers": customers, "store": store, "reason": f"exit {code}: {tail}"}
    per = float(match["per"].replace(",", ""))
    state = per * int(match["customers"])
    return {
        "status": "ok",
        "customers": int(match["customers"]),
        "store": store,
        "events": int(match["events"]),
        "eps": float(match["eps"].replace(",", "")),
        "wall_seconds": wall,
        "cpu_seconds": m.cpu - base_cpu,
        "eps_cpu": int(match["events"]) / max(m.cpu - base_cpu, 1e-9),
        "peak_rss_bytes": rss,
        "state_bytes": state,
        "state_bytes_per_customer": per,
        "rss_goal_bytes": 2 * state + 300e6,
    }


SHORT_CPU_SECONDS = 5.0  # a replay shorter than this is repeated: its figure moves with the machine's load
SHORT_REPEATS = 5


def replay_median(path: Path, customers: int, store: str, timeout: float, base_cpu: float) -> dict[str, Any]:
    """One replay, or for a short one (under ``SHORT_CPU_SECONDS`` of CPU) the median of
    ``SHORT_REPEATS`` by events per CPU-second, with every run's figure and the highest peak RSS."""
    first = replay_run(path, customers, store, timeout, base_cpu)
    if first.get("status") != "ok" or first["cpu_seconds"] >= SHORT_CPU_SECONDS:
        return first
    runs = [first] + [replay_run(path, customers, store, timeout, base_cpu) for _ in range(SHORT_REPEATS - 1)]
    ok = sorted((r for r in runs if r.get("status") == "ok"), key=lambda r: r["eps_cpu"])
    median = dict(ok[len(ok) // 2])
    median["eps_cpu_runs"] = [r["eps_cpu"] for r in ok]
    median["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in ok)
    return median


def measure_scale_replay(size: Size, workdir: Path, log: Any = print) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    base_cpu = start_up_cpu(workdir)
    for n in size.scale_customers:
        path = workdir / f"scale-{n}.jsonl"
        sim = [_exe(), "simulate", "--customers", str(n), "--days", str(size.scale_days)]
        sim += ["--end", str(SIM_END), "--out", str(path)]
        log(f"scale: simulating {n:,} customers over {size.scale_days} days")
        proc = subprocess.run(
            sim, cwd=REPO, capture_output=True, text=True, check=False, timeout=size.phase_timeout * 10
        )
        if proc.returncode != 0:
            runs.append({"status": "error", "customers": n, "reason": proc.stderr.strip()[-300:]})
            continue
        try:
            for store in STORES:
                log(f"scale: replay of {n:,} customers, {store}")
                runs.append(replay_median(path, n, store, timeout=size.phase_timeout * 20, base_cpu=base_cpu))
        finally:
            path.unlink(missing_ok=True)
    ok = [r for r in runs if r.get("status") == "ok"]
    out: dict[str, Any] = {
        "status": "ok" if ok else "error",
        "days": size.scale_days,
        "start_up_cpu_seconds": base_cpu,
        "runs": runs,
    }
    if not ok:
        out["reason"] = "; ".join(str(r.get("reason", "")) for r in runs)[:600]
    for store in STORES:
        mine = sorted((r for r in ok if r["store"] == store), key=lambda r: r["customers"])
        if len(mine) >= 2:
            # by CPU time: the wall clock of a shared machine moves with its other work
            out[f"flat_ratio_{store.rstrip(':/')}"] = mine[-1]["eps_cpu"] / mine[0]["eps_cpu"]
    return out


# ---------------------------------------------------------------- worker memory per customer


def _worker_events(customers: int, end: float) -> Any:
    """One login and one placed order per customer, in the last hours before ``end``."""
    span = 6 * 3600.0
    for i in range(customers):
        cid = customer_id(i)
        ts = end - span + span * i / max(customers, 1)
        yield filler_login(cid, ts, f"w{i}-l")
        order = {"type": "order", "event_id": f"w{i}-o", "customer_id": cid, "ts": rfc3339(ts + 1)}
        yield {**order, "order_id": f"o{i}", "amount": 42.5, "currency": "USD", "status": "placed", "items": 1}


def _rss_tree(pid: int) -> int:
    import psutil

    p = psutil.Process(pid)
    total = 0
    for q in [p, *p.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += int(q.memory_info().rss)
    return total


def worker_run(size: Size, bootstrap: str, workdir: Path, customers: int, store: str) -> dict[str, Any]:
    from bench import kafka_util
    from bench.live import LiveRun, Worker, wait_progress, wait_ready

    run = LiveRun(bootstrap, secrets.token_hex(4), size, workdir)
    kafka_util.create_topics(bootstrap, run.topics().values(), size.live_partitions)
    worker = Worker(run, clock="event")
    worker.env["CHURNWATCH_STORE"] = store
    worker.start()
    try:
        why = wait_ready(worker, timeout=min(90.0, size.phase_timeout))
        if why is not None:
            return {"status": "error", "customers": customers, "store": store, "reason": why}
        time.sleep(2.0)  # idle after start-up
        assert worker.proc is not None
        rss0 = _rss_tree(worker.proc.pid)
        n, _ = kafka_util.produce_sync(bootstrap, run.input_topics(), _worker_events(customers, SIM_END))
        # a worker takes in new customers at a few thousand events/s: the wait grows with them
        done = wait_progress(worker, run, n, size.phase_timeout * 5 + customers / 500)
        if done.get("status") != "ok":
            return {"status": "error", "customers": customers, "store": store, "reason": done.get("reason", "")}
        time.sleep(3.0)  # the commit and the changelog flush after the last event
        rss1 = _rss_tree(worker.proc.pid)
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            kafka_util.delete_topics_containing(bootstrap, run.run_id)
        with contextlib.suppress(Exception):
            kafka_util.delete_group(bootstrap, run.app_id)
    return {
        "status": "ok",
        "customers": customers,
        "store": store,
        "events": n,
        "rss_idle_bytes": rss0,
        "rss_loaded_bytes": rss1,
        "rss_bytes_per_customer": (rss1 - rss0) / max(customers, 1),
    }


def measure_scale_worker(size: Size, bootstrap: str, workdir: Path, log: Any = print) -> dict[str, Any]:
    from bench import kafka_util

    if not kafka_util.broker_reachable(bootstrap):
        return {"status": "skipped", "reason": f"no broker at {bootstrap}"}
    encoded = encoded_state_per_customer(SIM_END, workdir)
    runs = []
    for repeat in range(size.scale_worker_repeats):
        for store in STORES:
            for n in size.scale_worker_customers:
                log(f"scale: worker RSS with {n:,} customers, {store} ({repeat + 1}/{size.scale_worker_repeats})")
                res = worker_run(size, bootstrap, workdir, n, store)
                res["repeat"] = repeat
                if res.get("status") == "ok":
                    res["state_bytes_per_customer"] = encoded
                    res["rss_to_state"] = res["rss_bytes_per_customer"] / encoded if encoded > 0 else math.nan
                runs.append(res)
    ok = any(r.get("status") == "ok" for r in runs)
    out: dict[str, Any] = {"status": "ok" if ok else "error", "runs": runs, "state_bytes_per_customer": encoded}
    for store in STORES:
        marginals = marginal_per_customer(runs, store)
        if marginals:
            name = store.rstrip(":/")
            out[f"marginals_{name}"] = marginals
            out[f"marginal_{name}"] = statistics.median(marginals)
            out[f"fixed_{name}"] = fixed_growth(runs, store, out[f"marginal_{name}"])
    if not ok:
        out["reason"] = "; ".join(str(r.get("reason", "")) for r in runs)[:600]
    return out


def marginal_per_customer(runs: list[dict[str, Any]], store: str) -> list[float]:
    """Per repeat, the RSS one more customer adds: the growth (loaded minus idle) at the largest
    size less that at the smallest, over the customers between them. The worker's fixed growth
    (buffers of the consumed backlog, the allocators' pools) cancels out."""
    marginals = []
    for repeat in sorted({int(r.get("repeat", 0)) for r in runs}):
        mine = [r for r in runs if r.get("store") == store and int(r.get("repeat", 0)) == repeat]
        ok = sorted((r for r in mine if r.get("status") == "ok"), key=lambda r: r["customers"])
        if len(ok) == len(mine) >= 2 and ok[-1]["customers"] > ok[0]["customers"]:
            small, large = ok[0], ok[-1]
            growth = (large["rss_loaded_bytes"] - large["rss_idle_bytes"]) - (
                small["rss_loaded_bytes"] - small["rss_idle_bytes"]
            )
            marginals.append(growth / (large["customers"] - small["customers"]))
    return marginals


def fixed_growth(runs: list[dict[str, Any]], store: str, marginal: float) -> float:
    """What a backlog leaves in the worker whatever its customers (bytes): the growth at the
    smallest size (median of the repeats) less the marginal per customer times its customers.
    It is what keeps the RSS per customer at a size above the marginal: the fetched batches,
    parsed events and pending sends of the burst, freed into the allocators' pools."""
    ok = [r for r in runs if r.get("store") == store and r.get("status") == "ok"]
    smallest = min(int(r["customers"]) for r in ok)
    growths = [r["rss_loaded_bytes"] - r["rss_idle_bytes"] for r in ok if int(r["customers"]) == smallest]
    return float(statistics.median(growths) - marginal * smallest)


def encoded_state_per_customer(end: float, workdir: Path, customers: int = 2_000) -> float:
    """Encoded bytes per customer after the worker rows' events (one login, one order), by replay."""
    import orjson

    path = workdir / "scale-encoded.jsonl"
    with path.open("wb") as fh:
        for ev in _worker_events(customers, end):
            fh.write(orjson.dumps(ev) + b"\n")
    try:
        res = replay_run(path, customers, "memory://", timeout=300)
    finally:
        path.unlink(missing_ok=True)
    return float(res.get("state_bytes_per_customer", math.nan))
