"""`make demo`'s script on the local services: it waits for the worker to take every event it
produced before it shows the alerts (a run once showed 7 alerts of 721: it stopped waiting while
the alerts stood still mid-history)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.harness import drop_topics, free_port

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_shows_the_alerts_of_every_event(services: dict[str, str], tmp_path: Path) -> None:
    redis_url = services["redis_url"].rsplit("/", 1)[0] + "/13"  # not the other tests' database
    prefix = f"t-demo-{os.getpid()}-"  # a test prefix: a later session's clean-up would drop them too
    env = {
        **os.environ,
        "DEMO_SECONDS": "1",
        "DEMO_CUSTOMERS": "300",
        "DEMO_DAYS": "30",
        "DEMO_ROWS": "3",
        "CHURNWATCH_KAFKA_BOOTSTRAP": services["bootstrap"],
        "CHURNWATCH_REDIS_URL": redis_url,
        "CHURNWATCH_WEB_PORT": str(free_port()),
        "CHURNWATCH_DATA_DIR": str(tmp_path / "data"),
        "CHURNWATCH_TOPIC_PREFIX": prefix,
        "CHURNWATCH_APP_ID": f"{prefix}app",
    }
    proc = subprocess.run(
        ["bash", str(REPO / "deploy" / "local" / "demo.sh")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    out = proc.stdout + proc.stderr
    drop_topics(services["bootstrap"], (prefix,))  # fewer partitions for the broker-restart fault test
    assert proc.returncode == 0, out[-3000:]
    produced = re.search(r"^simulate: (\d+) events", out, re.M)
    took = re.search(r"^== the worker took (\d+) of the (\d+) events", out, re.M)
    assert produced and took, out[-3000:]
    assert took.group(1) == took.group(2) == produced.group(1), out[-3000:]
    summary = re.search(r"^(\d+) alerts \((\d+) firing, (\d+) resolved\)", out, re.M)
    assert summary and int(summary.group(1)) > 0, out[-3000:]
