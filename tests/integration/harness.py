"""Running real workers against the local broker and Redis in tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from agents.pack_file import load_pack
from agents.settings import Settings
from rules.engine import Engine, EngineConfig
from streams.parse import parse_line

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".cache" / "logs"
# Each test worker's working folder (its data directory): the last session's are kept for a look
# after a failure, and removed when the next session starts (tests/integration/conftest.py).
WORKDIRS = ROOT / ".cache" / "test-workers"
CHURNWATCH = ROOT / ".venv" / "bin" / "churnwatch"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drop_topics(bootstrap: str, prefixes: tuple[str, ...]) -> None:
    """Delete the broker's topics whose names start with one of ``prefixes`` (100 per request)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        names = [t for t in admin.list_topics() if t.startswith(prefixes)]
        for i in range(0, len(names), 100):
            admin.delete_topics(names[i : i + 100])
    finally:
        admin.close()


class WorkerProcess:
    """A `churnwatch worker` subprocess with its own app id, topic prefix and web port."""

    def __init__(self, services: dict[str, str], name: str, **env: str) -> None:
        run = uuid.uuid4().hex[:8]
        self.prefix = env.pop("prefix", f"t-{name}-{run}-")
        self.port = free_port()
        self.env = {
            **os.environ,
            "CHURNWATCH_KAFKA_BOOTSTRAP": services["bootstrap"],
            "CHURNWATCH_TOPIC_PREFIX": self.prefix,
            "CHURNWATCH_APP_ID": f"cw-{name}-{run}",
            "CHURNWATCH_CLOCK": "event",
            "CHURNWATCH_PARTITIONS": "2",
            "CHURNWATCH_WEB_PORT": str(self.port),
            "CHURNWATCH_WEB_HOST": "127.0.0.1",
            "CHURNWATCH_WEB_BIND": "127.0.0.1",
            "CHURNWATCH_REDIS_FLUSH_SECONDS": "0.5",
            "CHURNWATCH_SESSION_TIMEOUT_SECONDS": "6",
            **env,
        }
        if "CHURNWATCH_REDIS_URL" not in env:
            self.env.pop("CHURNWATCH_REDIS_URL", None)
        self.settings = Settings(kafka_bootstrap=services["bootstrap"], topic_prefix=self.prefix, partitions=2)  # type: ignore[call-arg]
        self.log = LOGS / f"test-worker-{name}-{run}.log"
        self.workdir = WORKDIRS / f"{name}-{run}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env["CHURNWATCH_DATA_DIR"] = str(self.workdir / "data")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(CHURNWATCH), "worker", "-l", "info"], cwd=self.workdir, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}; see {self.log}")
            status, body = self.get("/healthz")
            if status == 200 and body.get("partitions") and not body.get("rebalancing"):
                return self
            time.sleep(0.5)
        raise AssertionError(f"worker not ready in {timeout} s; see {self.log}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def terminate(self, timeout: float = 20.0) -> bool:
        """SIGTERM; True when the worker left by itself within ``timeout`` (else it is killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return False

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                body = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        except (urllib.error.URLError, OSError):
            return 0, {}
        try:
            return status, orjson.loads(body)
        except orjson.JSONDecodeError:
            return status, body.decode()

    def metric(self, name: str, **labels: str) -> float:
        status, text = self.get("/metrics")
        if status != 200:
            return 0.0
        total = 0.0
        for line in str(text).splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_for_events(self, count: int, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        done = 0.0
        while time.monotonic() < deadline:
            done = self.metric("churnwatch_events_total")
            if done >= count:
                return
            time.sleep(0.5)
        raise AssertionError(f"worker processed {done} of {count} events in {timeout} s; see {self.log}")

    def topic(self, name: str) -> str:
        return self.prefix + name


def produce(worker: WorkerProcess, events: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Send the events keyed by customer_id; returns each customer's partition."""
    producer = KafkaProducer(bootstrap_servers=worker.settings.kafka_bootstrap, linger_ms=5, acks=1)
    topics = worker.settings.input_topics
    futures = {}
    for event in events:
        body = {k: v for k, v in event.items() if k != "type"}
        cid = event["customer_id"]
        futures[cid] = producer.send(topics[event["type"]], key=cid.encode(), value=orjson.dumps(body))
    producer.flush()
    partitions = {cid: f.get(timeout=30).partition for cid, f in futures.items()}
    producer.close()
    return partitions


def produce_raw(worker: WorkerProcess, topic: str, key: bytes | None, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=worker.settings.kafka_bootstrap, max_request_size=2_000_000)
    producer.send(worker.topic(topic), key=key, value=value)
    producer.flush()
    producer.close()


def consume(bootstrap: str, topic: str, idle: float = 3.0) -> list[Any]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=int(idle * 1000)
    )
    out = [(m.key, orjson.loads(m.value)) for m in consumer]
    consumer.close()
    return out


def replay_alerts(events: list[dict[str, Any]], partitions_of: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """What the worker must publish: the engine over the same input, one engine per partition, no final tick."""
    engines: dict[int, Engine] = {}
    out: list[dict[str, Any]] = []
    pack = load_pack()
    for raw in events:
        event = parse_line(orjson.dumps(raw))
        p = partitions_of[event.customer_id] if partitions_of else 0
        engine = engines.get(p)
        if engine is None:
            engine = engines[p] = Engine(pack, EngineConfig())
        out += engine.process(event)
    return out


def strip(alerts: Iterable[dict[str, Any]]) -> set[bytes]:
    return {
        orjson.dumps({k: v for k, v in a.items() if k != "emitted_at"}, option=orjson.OPT_SORT_KEYS) for a in alerts
    }
