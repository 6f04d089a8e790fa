"""Shared fixtures: the local services are started (idempotently) only when integration tests run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# shared machines are noisy: no per-example deadline, no "too slow" failures
settings.register_profile("churnwatch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("churnwatch")

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".cache" / "logs"


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    """Kafka bootstrap and Redis URL of the local services (deploy/local/services.sh up)."""
    proc = subprocess.run([str(ROOT / "deploy/local/services.sh"), "up"], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"local services did not start (logs in {LOGS}):\n{proc.stderr[-3000:]}")
    port = os.environ.get("CHURNWATCH_LOCAL_KAFKA_PORT", "9092")
    redis_port = os.environ.get("CHURNWATCH_LOCAL_REDIS_PORT", "6379")
    yield {
        "bootstrap": os.environ.get("CHURNWATCH_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}"),
        "redis_url": os.environ.get("CHURNWATCH_REDIS_URL", f"redis://127.0.0.1:{redis_port}/0"),
        "logs": str(LOGS),
    }
