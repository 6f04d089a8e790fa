"""Integration fixtures: the real local Kafka broker and Redis (deploy/local/services.sh).

``services`` runs ``deploy/local/services.sh up`` once per session, and only when a selected test
asks for it; ``up`` is idempotent (it returns at once when the services already run, and uses
the broker / Redis of CHURNWATCH_KAFKA_BOOTSTRAP / CHURNWATCH_REDIS_URL when those point elsewhere).
Every test in this folder is marked ``integration``, so ``-m "not integration"`` skips them all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LOGS = Path(os.environ.get("CHURNWATCH_CACHE_DIR", ROOT / ".cache")) / "logs"
SERVICES = ROOT / "deploy" / "local" / "services.sh"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _fresh_worker_folders() -> None:
    """The previous session's test-worker folders go; this session's stay until the next one."""
    from tests.integration.harness import WORKDIRS

    shutil.rmtree(WORKDIRS, ignore_errors=True)


@pytest.fixture(scope="session")
def services() -> dict[str, str]:
    """Kafka bootstrap servers, Redis URL and the log folder of the running local services."""
    try:
        proc = subprocess.run(
            [str(SERVICES), "up"], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"local services did not come up in 10 minutes; logs in {LOGS}")
    if proc.returncode != 0:
        pytest.fail(f"local services did not start (logs in {LOGS}):\n{proc.stderr[-3000:]}")
    kafka_port = os.environ.get("CHURNWATCH_LOCAL_KAFKA_PORT", "9092")
    redis_port = os.environ.get("CHURNWATCH_LOCAL_REDIS_PORT", "6379")
    if not os.environ.get("CHURNWATCH_KAFKA_BOOTSTRAP"):  # our own broker only
        _drop_old_test_topics(f"127.0.0.1:{kafka_port}")
    return {
        "bootstrap": os.environ.get("CHURNWATCH_KAFKA_BOOTSTRAP") or f"127.0.0.1:{kafka_port}",
        "redis_url": os.environ.get("CHURNWATCH_REDIS_URL") or f"redis://127.0.0.1:{redis_port}/0",
        "logs": str(LOGS),
    }


TEST_TOPIC_PREFIXES = ("t-", "cw-")  # tests.integration.harness: topic prefixes and app ids of test workers


def _drop_old_test_topics(bootstrap: str) -> None:
    """The previous sessions' test topics go (this session's stay until the next one, for a look
    after a failure). Left to pile up, they slow the broker's restart (it brings partitions back
    one by one), which the broker-restart fault test does mid-stream."""
    from tests.integration.harness import drop_topics

    try:
        drop_topics(bootstrap, TEST_TOPIC_PREFIXES)
    except Exception as exc:  # housekeeping: the tests do not depend on it
        warnings.warn(f"old test topics not deleted: {exc!r}", stacklevel=1)


@pytest.fixture(scope="session")
def kafka_bootstrap(services: dict[str, str]) -> str:
    return services["bootstrap"]


@pytest.fixture(scope="session")
def redis_url(services: dict[str, str]) -> str:
    return services["redis_url"]
