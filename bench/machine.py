"""What the numbers were measured on: CPU, cores, memory, Python, library and Kafka versions."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _jar_version() -> str | None:
    # only the jar folders: the broker's data folder under .cache changes while we look
    for root in [REPO / "deploy" / "local", *sorted((REPO / ".cache").glob("kafka-*/libs"))]:
        if not root.is_dir():
            continue
        for jar in sorted(root.glob("kafka_2.1*-*.jar")) + sorted(root.glob("kafka-server-*.jar")):
            m = re.search(r"kafka(?:_2\.\d+|-server)-(\d+\.\d+\.\d+)\.jar$", jar.name)
            if m:
                return m.group(1)
    return None


def kafka_version(bootstrap: str | None) -> str | None:
    """The broker's Kafka version: what it speaks (kafka-python's probe), refined by deploy/local's jars."""
    from bench.kafka_util import broker_reachable

    if bootstrap is None or not broker_reachable(bootstrap):
        return None
    api: str | None = None
    with contextlib.suppress(Exception):
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            api = ".".join(str(p) for p in admin._client.check_version())
        finally:
            admin.close()
    jar = _jar_version()
    if jar and (api is None or jar.startswith(api + ".") or jar == api):
        return jar
    return api


def machine_info(bootstrap: str | None = None) -> dict[str, Any]:
    mem_total = None
    with contextlib.suppress(Exception):
        import psutil

        mem_total = psutil.virtual_memory().total
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": mem_total,
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        # which build of it (a distribution's, with profile-guided optimisation, or one from source):
        # two builds of one minor version ran the loop about 10% apart (deploy/local/venv.sh)
        "python_build": f"{platform.python_build()[1]}, {platform.python_compiler()}",
        "kafka": kafka_version(bootstrap),
        "libraries": {
            name: _version(name)
            for name in ("faust-streaming", "aiokafka", "kafka-python", "orjson", "rocksdict", "psutil", "pyinstrument")
        },
    }
