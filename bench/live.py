"""Live measurements against a real broker: worker throughput, raw aiokafka ceiling, Quix peer, latency.

One run uses its own topics (``CHURNWATCH_TOPIC_PREFIX=bench-<id>.``) and consumer groups
(``CHURNWATCH_APP_ID=bench-<id>-worker`` ...), so it never collides with other users of the broker,
and deletes them at the end. The same pre-produced events are read by the raw aiokafka consumer,
the Quix Streams peer and one ``churnwatch worker``.

- Throughput: from the first event consumed to the last state update, polling the worker's
  ``churnwatch_events_total`` on ``/metrics`` (every outcome counts: applied, duplicate, dead letter);
  the consumer group's committed offsets are the fallback when ``/metrics`` is not there.
- Latency: at each offered rate, filler logins plus a share of subscription cancellations for fresh
  customers (each fires one ``critical`` alert at once); latency = arrival of the alert on the alerts
  topic minus the moment its event was handed to the producer (same machine, same clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import kafka_util
from bench.profiling import py_spy_record
from bench.results import GOAL_LIVE_EPS, RESULTS_DIR
from bench.sizes import Size
from bench.synth import DAY, cancel_event, filler_login, live_mix

REPO = Path(__file__).resolve().parent.parent
QUIX_PYTHON_ENV = "CHURNWATCH_BENCH_QUIX_PYTHON"
WORKER_CMD_ENV = "CHURNWATCH_BENCH_WORKER_CMD"  # default: <venv>/churnwatch worker -l warn
QUIX_VENV = REPO / ".cache" / "bench-quix"
EVENTS_LINE = re.compile(r"^churnwatch_events_total\{[^}]*\}\s+([0-9.eE+-]+)", re.MULTILINE)


@dataclass
class LiveRun:
    bootstrap: str
    run_id: str
    size: Size
    workdir: Path
    profile_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"bench-{self.run_id}."

    @property
    def app_id(self) -> str:
        return f"bench-{self.run_id}-worker"

    def topics(self) -> dict[str, str]:
        """Event type to input topic, plus ``alerts`` and ``dead_letters``."""
        from agents.settings import Settings

        s = Settings(topic_prefix=self.prefix)  # type: ignore[call-arg]
        return {**s.input_topics, "alerts": s.topic("alerts"), "dead_letters": s.topic("dead_letters")}

    def input_topics(self) -> dict[str, str]:
        return {k: v for k, v in self.topics().items() if k in kafka_util.INPUT_TYPES}


def quix_python() -> str | None:
    env = os.environ.get(QUIX_PYTHON_ENV)
    if env:
        return env
    cand = QUIX_VENV / "bin" / "python"
    return str(cand) if cand.exists() else None


def setup_quix_venv() -> str:
    """Create the separate virtualenv Quix Streams needs (its pins conflict with churnwatch's)."""
    import venv

    venv.EnvBuilder(with_pip=True, clear=False).create(QUIX_VENV)
    py = str(QUIX_VENV / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "quixstreams>=3.28,<4", "orjson"], check=True)
    return py


def _peer(cmd: list[str], timeout: float) -> dict[str, Any]:
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout + 60, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {timeout + 60:.0f} s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(orjson.JSONDecodeError):
                out: dict[str, Any] = orjson.loads(line)
                return out
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])[-400:]
    return {"status": "error", "reason": f"exit {proc.returncode}: {tail}"}


def measure_raw(run: LiveRun, n: int) -> dict[str, Any]:
    topics = ",".join(run.input_topics().values())
    cmd = [sys.executable, "-m", "bench.peers.raw_aiokafka", "--bootstrap", run.bootstrap, "--topics", topics]
    cmd += ["--partitions", str(run.size.live_partitions), "--expect", str(n), "--timeout", str(run.size.phase_timeout)]
    return _peer(cmd, run.size.phase_timeout)


def measure_faust_noop(run: LiveRun, n: int) -> dict[str, Any]:
    topics = ",".join(run.input_topics().values())
    cmd = [sys.executable, "-m", "bench.peers.faust_noop", "--bootstrap", run.bootstrap, "--topics", topics]
    cmd += ["--expect", str(n), "--group", f"bench-{run.run_id}-faust", "--timeout", str(run.size.phase_timeout)]
    return _peer(cmd, run.size.phase_timeout)


def measure_quix(run: LiveRun, n: int) -> dict[str, Any]:
    py = quix_python()
    if py is None:
        return {
            "status": "skipped",
            "reason": f"Quix Streams venv missing: run `python -m bench setup-peers` (or set {QUIX_PYTHON_ENV})",
        }
    topics = ",".join(f"{k}={v}" for k, v in run.input_topics().items())
    cmd = [py, "-W", "ignore", "-m", "bench.peers.quix_counts", "--bootstrap", run.bootstrap, "--topics", topics]
    cmd += ["--expect", str(n), "--group", f"bench-{run.run_id}-quix", "--timeout", str(run.size.phase_timeout)]
    res = _peer(cmd, run.size.phase_timeout)
    with contextlib.suppress(Exception):
        out = subprocess.run(
            [py, "-c", "import quixstreams;print(quixstreams.__version__)"], capture_output=True, text=True
        )
        res["quixstreams"] = out.stdout.strip().splitlines()[-1]
    return res


# ---------------------------------------------------------------- the worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Worker:
    """One ``churnwatch worker`` subprocess on this run's topics."""

    def __init__(self, run: LiveRun, clock: str = "wall") -> None:
        self.run = run
        self.port = _free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-worker-", dir=run.workdir))
        self.log = run.workdir / f"worker-{self.port}.log"
        self.env = {
            **os.environ,
            "CHURNWATCH_KAFKA_BOOTSTRAP": run.bootstrap,
            "CHURNWATCH_TOPIC_PREFIX": run.prefix,
            "CHURNWATCH_APP_ID": run.app_id,
            "CHURNWATCH_WEB_PORT": str(self.port),
            "CHURNWATCH_WEB_BIND": "127.0.0.1",
            "CHURNWATCH_DATA_DIR": str(self.data_dir),
            "CHURNWATCH_PARTITIONS": str(run.size.live_partitions),
            "CHURNWATCH_CLOCK": clock,
        }
        for var in ("CHURNWATCH_REDIS_URL", "CHURNWATCH_API_TOKEN"):
            self.env.pop(var, None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        custom = os.environ.get(WORKER_CMD_ENV)
        if custom:
            cmd = shlex.split(custom)
        else:
            exe = Path(sys.executable).parent / "churnwatch"
            cmd = [str(exe) if exe.exists() else "churnwatch", "worker", "-l", "warn"]
        fh = self.log.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=self.run.workdir, env=self.env, stdout=fh, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])[-600:]
        return ""

    def events_total(self) -> float | None:
        """Sum of churnwatch_events_total over topics and outcomes, or None if /metrics does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except (OSError, ValueError):
            return None
        return sum(float(v) for v in EVENTS_LINE.findall(text))

    def cpu_seconds(self) -> float:
        import psutil

        if self.proc is None:
            return 0.0
        try:
            p = psutil.Process(self.proc.pid)
            procs = [p, *p.children(recursive=True)]
            return sum(sum(q.cpu_times()[:2]) for q in procs)
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def wait_progress(worker: Worker, run: LiveRun, target: float, timeout: float, base: float = 0.0) -> dict[str, Any]:
    """Poll until ``target`` events are counted; returns first/last sample times, counts and CPU."""
    deadline = time.monotonic() + timeout
    use_metrics: bool | None = None
    t_first = t_last = 0.0
    c_first = count = 0.0
    cpu_first = 0.0
    samples = 0
    while time.monotonic() < deadline:
        if not worker.alive():
            return {"status": "error", "reason": f"worker exited: {worker.log_tail()}"}
        value: float | None = None
        if use_metrics is not False:
            value = worker.events_total()
            if value is not None:
                use_metrics = True
        if value is None and use_metrics is not True:
            with contextlib.suppress(Exception):
                value = float(kafka_util.committed_total(run.bootstrap, run.app_id, run.input_topics().values()))
        now = time.perf_counter()
        if value is not None:
            samples += 1
            count = value - base
            if count > 0 and t_first == 0.0:
                t_first, c_first, cpu_first = now, count, worker.cpu_seconds()
            if count >= target:
                t_last = now
                cpu = worker.cpu_seconds() - cpu_first
                secs = t_last - t_first
                return {
                    "status": "ok",
                    "source": "metrics" if use_metrics else "committed offsets",
                    "events": int(count),
                    "seconds": secs,
                    "eps": (count - c_first) / secs if secs > 0 else None,
                    "cpu_seconds": cpu,
                    "eps_per_cpu_second": (count - c_first) / cpu if cpu > 0 else None,
                    "samples": samples,
                    "measured_share": (count - c_first) / max(count, 1),
                }
        time.sleep(0.05 if use_metrics else 0.5)
    return {"status": "error", "reason": f"{count:.0f} of {target:.0f} events counted in {timeout:.0f} s"}


def wait_ready(worker: Worker, timeout: float) -> str | None:
    """None when the worker's /metrics answers; else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            return f"worker exited: {worker.log_tail()}"
        if worker.events_total() is not None:
            return None
        time.sleep(0.2)
    return f"/metrics did not answer in {timeout:.0f} s: {worker.log_tail()}"


# ---------------------------------------------------------------- latency


async def _latency_phase(run: LiveRun, rate: int, seconds: float, alert_share: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topics = run.topics()
    marker = f"lat-{run.run_id}-{rate}-"
    consumer = AIOKafkaConsumer(
        topics["alerts"],
        bootstrap_servers=run.bootstrap,
        group_id=f"bench-{run.run_id}-alerts-{rate}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=5,
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks=1, linger_ms=1)
    await consumer.start()
    await producer.start()
    # Make sure the consumer has its assignment and position before anything is produced.
    for _ in range(100):
        if consumer.assignment():
            break
        await asyncio.sleep(0.05)
    await consumer.seek_to_end()
    for tp in consumer.assignment():
        await consumer.position(tp)

    sent: dict[str, float] = {}
    got: dict[str, tuple[float, float | None]] = {}
    done = asyncio.Event()

    async def receive() -> None:
        while not done.is_set() or len(got) < len(sent):
            batches = await consumer.getmany(timeout_ms=20, max_records=10_000)
            now = time.time()
            for msgs in batches.values():
                for msg in msgs:
                    key = (msg.key or b"").decode()
                    if key.startswith(marker) and key not in got:
                        emitted = None
                        with contextlib.suppress(Exception):
                            v = orjson.loads(msg.value or b"{}")
                            emitted = _epoch(v.get("emitted_at"))
                        got[key] = (now, emitted)
            if done.is_set() and time.time() > done_at[0] + 10:
                break

    done_at = [0.0]
    receiver = asyncio.create_task(receive())
    every = max(1, round(1 / alert_share)) if alert_share > 0 else 0
    total = int(rate * seconds)
    t0 = time.perf_counter()
    wall0 = time.time()
    i = 0
    step = 0.005
    filler_ids = max(run.size.live_customers, 1)
    try:
        while i < total:
            due = min(total, int((time.perf_counter() - t0) * rate) + 1)
            while i < due:
                now = time.time()
                if every and i % every == every - 1:
                    cid = f"{marker}{i}"
                    ev = cancel_event(cid, now, f"{marker}e{i}")
                else:
                    cid = f"c-{i % filler_ids:07d}"
                    ev = filler_login(cid, now, f"{marker}f{i}")
                etype, key, value = kafka_util.encode(ev)
                await producer.send(topics[etype], value=value, key=key)
                if every and i % every == every - 1:
                    sent[cid] = now
                i += 1
            await asyncio.sleep(step)
        await producer.flush()
        offered = total / (time.perf_counter() - t0)
        done_at[0] = time.time()
        done.set()
        await asyncio.wait_for(receiver, timeout=30)
    finally:
        done.set()
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver
        await producer.stop()
        await consumer.stop()
    lat = sorted((got[k][0] - t) * 1000 for k, t in sent.items() if k in got)
    emit = sorted((got[k][1] - t) * 1000 for k, t in sent.items() if k in got and got[k][1] is not None)  # type: ignore[operator]
    res: dict[str, Any] = {
        "rate": rate,
        "offered_eps": offered,
        "seconds": seconds,
        "events": total,
        "probes": len(sent),
        "alerts": len(lat),
        "missing": len(sent) - len(lat),
        "started_at": wall0,
    }
    if lat:
        res.update({"p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "max_ms": lat[-1]})
    if emit:
        res.update({"emit_p50_ms": _pct(emit, 50), "emit_p99_ms": _pct(emit, 99)})
    if not lat:
        res["reason"] = f"no alert arrived for {len(sent)} cancellations: {run.workdir}"
    return res


def _pct(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[idx]


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        from datetime import datetime

        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


# ---------------------------------------------------------------- the whole live part


def measure_live(
    size: Size,
    bootstrap: str,
    workdir: Path,
    run_id: str,
    with_quix: bool = True,
    profile_dir: Path | None = RESULTS_DIR,
) -> dict[str, Any]:
    """All live measurements; returns {raw_aiokafka, quix, live_worker, latency, notes, profiles}."""
    out: dict[str, Any] = {}
    if not kafka_util.broker_reachable(bootstrap):
        why = f"no broker at {bootstrap} (start deploy/local first)"
        parts = ("raw_aiokafka", "faust_noop", "quix", "live_worker", "latency")
        return {k: {"status": "skipped", "reason": why} for k in parts}
    run = LiveRun(bootstrap, run_id, size, workdir, profile_dir)
    try:
        return _measure_live(run, with_quix, out)
    finally:
        with contextlib.suppress(Exception):
            deleted = kafka_util.delete_topics_containing(bootstrap, f"bench-{run_id}")
            out.setdefault("cleanup", {})["topics_deleted"] = len(deleted)
        for suffix in ("worker", "raw", "faust", "quix", *(f"alerts-{r}" for r in size.latency_rates)):
            with contextlib.suppress(Exception):
                kafka_util.delete_group(bootstrap, f"bench-{run_id}-{suffix}")


def _measure_live(run: LiveRun, with_quix: bool, out: dict[str, Any]) -> dict[str, Any]:
    size = run.size
    topics = run.topics()
    kafka_util.create_topics(run.bootstrap, topics.values(), size.live_partitions)
    end = time.time() - 60.0
    events = live_mix(size.live_events, size.live_customers, end - 2 * DAY, end)
    n, secs = kafka_util.produce_sync(run.bootstrap, run.input_topics(), events)
    out["produce"] = {"status": "ok", "events": n, "seconds": secs, "eps": n / secs if secs else None}

    out["raw_aiokafka"] = measure_raw(run, n)
    out["faust_noop"] = measure_faust_noop(run, n)
    out["quix"] = measure_quix(run, n) if with_quix else {"status": "skipped", "reason": "--no-quix"}

    try:
        if not os.environ.get(WORKER_CMD_ENV):
            import agents.app  # noqa: F401  (the worker's code must exist before it is worth starting)
    except ImportError as exc:
        why = f"not available yet: {exc}"
        out["live_worker"] = {"status": "skipped", "reason": why}
        out["latency"] = {"status": "skipped", "reason": why}
        return out

    worker = Worker(run)
    worker.start()
    try:
        not_ready = wait_ready(worker, timeout=min(90.0, size.phase_timeout))
        if not_ready is not None:
            # No /metrics: measure with committed offsets (coarse: the commit interval bounds the resolution).
            run.notes.append(f"worker /metrics unavailable ({not_ready}); throughput from committed offsets")
        res = wait_progress(worker, run, n, size.phase_timeout)
        if res.get("status") == "ok" and int(res.get("samples", 0)) < 10:
            res["warning"] = "fewer than 10 samples in the measured window: use a bigger size for a stable number"
        res["events_offered"] = n
        res["partitions"] = size.live_partitions
        out["live_worker"] = res
        base = worker.events_total() or 0.0
        lat_runs = []
        for rate in size.latency_rates:
            lat_runs.append(asyncio.run(_latency_phase(run, rate, size.latency_seconds, size.latency_alert_share)))
            if not worker.alive():
                break
        out["latency"] = {"status": "ok" if any(r.get("alerts") for r in lat_runs) else "error", "runs": lat_runs}
        if out["latency"]["status"] == "error":
            out["latency"]["reason"] = f"no alerts arrived; worker log: {worker.log_tail()}"
        out["latency"]["events_before"] = base
        # profiled last: py-spy's sampling would perturb the latency phases
        if run.profile_dir is not None and res.get("status") == "ok" and (res.get("eps") or 0) < GOAL_LIVE_EPS:
            out["live_worker"]["profile"] = _profile_worker(worker, run, res)
    finally:
        worker.stop()
    return out


def _profile_worker(worker: Worker, run: LiveRun, res: dict[str, Any]) -> dict[str, Any]:
    """Produce the same amount again and sample the worker with py-spy while it consumes it."""
    n = int(run.size.live_events)
    end = time.time() - 30.0
    events = live_mix(n, run.size.live_customers, end - DAY, end, seed=8)
    before = worker.events_total() or 0.0
    assert worker.proc is not None
    eps = float(res.get("eps") or 1000.0)
    seconds = max(2.0, min(20.0, n / eps * 0.8))
    assert run.profile_dir is not None
    run.profile_dir.mkdir(parents=True, exist_ok=True)
    out_file = run.profile_dir / "profile-worker.txt"
    loop_started = time.monotonic()
    result: list[tuple[list[dict[str, Any]], str | None]] = []
    pid = worker.proc.pid
    sampler = threading.Thread(target=lambda: result.append(py_spy_record(pid, seconds, out_file)), daemon=True)
    sampler.start()
    kafka_util.produce_sync(run.bootstrap, run.input_topics(), events)
    sampler.join(timeout=seconds + 60)
    top, err = result[0] if result else ([], "py-spy did not finish")
    wait_progress(worker, run, n, max(5.0, run.size.phase_timeout - (time.monotonic() - loop_started)), base=before)
    if err:
        return {"error": err}
    shown = out_file.relative_to(REPO) if out_file.is_relative_to(REPO) else out_file
    return {"top_self": top, "file": str(shown), "seconds": seconds}
