"""The secured paths against real secured services (deploy/local/services.sh up secure): a Kafka
broker whose listeners speak SASL_SSL with SCRAM-SHA-512 and mutual TLS, and a Redis with a TLS
port only and an ACL user. A worker and `churnwatch simulate` work through them (events in, alerts
and the Redis view out, the API behind a token read from a file); a wrong password, an untrusted
CA, a missing client certificate, a plaintext client against a TLS port and a TLS client against a
plaintext one each stop the worker at start-up with one line naming the setting; and no secret
shows in any log, dead letter, metric or HTTP answer."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer

from agents.kafka_config import kafka_python_config
from agents.redis_view import AT_RISK, redis_client
from agents.settings import Settings
from tests.integration.conftest import LOGS, SERVICES
from tests.integration.harness import CHURNWATCH, WorkerProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECURE = LOGS.parent / "secure"
START_UP_TIMEOUT = 60  # seconds a bad start-up may take before the test calls it hung (not a measurement)


@pytest.fixture(scope="module")
def secure() -> dict[str, str]:
    """The CHURNWATCH_* settings that reach the secured twins (started when not running)."""
    try:
        proc = subprocess.run(
            [str(SERVICES), "up", "secure"], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the secured services did not come up in 10 minutes; logs in {LOGS}")
    if proc.returncode != 0:
        pytest.fail(f"the secured services did not start (logs in {LOGS}):\n{proc.stderr[-3000:]}")
    return read_env(SECURE / "secure.env")


@pytest.fixture(scope="module")
def mtls(secure: dict[str, str]) -> dict[str, str]:
    """The settings of the secured broker's mutual-TLS listener (protocol SSL, client certificate)."""
    return read_env(SECURE / "mtls.env")


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("CHURNWATCH_"):
            env[key] = value
    return env


def settings_of(env: dict[str, str], **more: Any) -> Settings:
    values = {k.removeprefix("CHURNWATCH_").lower(): v for k, v in env.items()}
    return Settings(**values, **more)


def known_secrets() -> list[str]:
    found = [p.read_text().strip() for p in SECURE.glob("*.password")]
    assert len(found) >= 4 and all(len(s) >= 16 for s in found)
    return found


def assert_no_secret(text: str, secret_values: list[str], where: str) -> None:
    for value in secret_values:
        assert value not in text, f"a secret shows in {where}"


def http(port: int, path: str, authorization: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def consume_all(settings: Settings, topic: str, idle: float = 3.0) -> list[tuple[bytes | None, bytes]]:
    consumer = KafkaConsumer(
        topic, auto_offset_reset="earliest", consumer_timeout_ms=int(idle * 1000), **kafka_python_config(settings)
    )
    try:
        return [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()


def test_worker_and_simulate_through_sasl_ssl_kafka_and_tls_acl_redis(secure: dict[str, str], tmp_path: Path) -> None:
    token = "api-" + secrets.token_hex(16)
    token_file = tmp_path / "api-token"
    token_file.write_text(token + "\n")
    worker = WorkerProcess(
        {"bootstrap": secure["CHURNWATCH_KAFKA_BOOTSTRAP"]},
        "secure",
        **secure,
        CHURNWATCH_API_TOKEN_FILE=str(token_file),
    )
    worker.env.pop("CHURNWATCH_API_TOKEN", None)
    settings = settings_of(secure, topic_prefix=worker.prefix)
    answers: list[str] = []
    client = redis_client(settings)
    client.delete(AT_RISK)  # what the test finds there is this worker's
    try:
        worker.start()
        sim = subprocess.run(
            [str(CHURNWATCH), "simulate", "--customers", "80", "--days", "40", "--seed", "7", "--churn-share", "0.4"],
            env=worker.env,
            cwd=worker.workdir,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        assert sim.returncode == 0, sim.stderr[-2000:]
        found = re.search(r"simulate: (\d+) events", sim.stderr)
        assert found, sim.stderr
        events = int(found.group(1))

        # one bad message, for a dead letter
        producer = KafkaProducer(**kafka_python_config(settings))
        producer.send(settings.topic("logins"), key=b"c-bad", value=b"{not json").get(timeout=30)
        producer.close()
        worker.wait_for_events(events + 1, timeout=120)

        alerts = consume_all(settings, settings.topic("alerts"))
        assert alerts and all(key for key, _ in alerts)
        assert {orjson.loads(v)["status"] for _, v in alerts} <= {"firing", "resolved"}
        dead = consume_all(settings, settings.topic("dead_letters"), idle=2.0)
        assert [orjson.loads(v)["reason"] for _, v in dead] == ["invalid_json"]

        # the Redis view, written over TLS as the ACL user (and read back the same way)
        deadline = time.monotonic() + 30
        while client.zcard(AT_RISK) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        at_risk = client.zrevrange(AT_RISK, 0, 0)
        assert at_risk, "the worker wrote no at-risk customer to Redis"
        cid = at_risk[0].decode()
        assert cid.encode() in {key for key, _ in alerts}
        assert client.hget(f"churnwatch:customer:{cid}", "tier") in (b"watch", b"at_risk", b"critical")

        # the API behind the token from the file: Bearer in any case; /metrics and /healthz open
        status, body = http(worker.port, "/at-risk?limit=5")
        assert status == 401 and "Bearer" in body
        assert http(worker.port, "/at-risk?limit=5", f"Bearer {token}x")[0] == 401
        status, body = http(worker.port, "/at-risk?limit=5", f"bearer {token}")
        assert status == 200 and orjson.loads(body)["customers"]
        answers.append(body)
        status, body = http(worker.port, f"/customers/{cid}", f"BEARER {token}")
        assert status == 200 and orjson.loads(body)["customer_id"] == cid
        answers.append(body)
        for path in ("/metrics", "/healthz"):
            status, body = http(worker.port, path)
            assert status == 200
            answers.append(body)
        assert worker.metric("churnwatch_dead_letters_total", reason="invalid_json") == 1
    finally:
        worker.stop()
        client.close()

    secret_values = [*known_secrets(), token]
    assert_no_secret(sim.stdout + sim.stderr, secret_values, "simulate's output")
    assert_no_secret(worker.log.read_text(errors="replace"), secret_values, f"the worker log {worker.log}")
    assert_no_secret("\n".join(answers), secret_values, "the HTTP answers")
    assert_no_secret(b"\n".join(v for _, v in dead + alerts).decode(errors="replace"), secret_values, "the topics")
    for log in LOGS.glob("*secure*"):
        assert_no_secret(log.read_text(errors="replace"), secret_values, str(log))


def test_worker_and_simulate_through_the_mutual_tls_listener(mtls: dict[str, str]) -> None:
    worker = WorkerProcess({"bootstrap": mtls["CHURNWATCH_KAFKA_BOOTSTRAP"]}, "mtls", **mtls)
    for key in ("CHURNWATCH_KAFKA_SASL_USERNAME", "CHURNWATCH_KAFKA_SASL_PASSWORD", "CHURNWATCH_REDIS_URL"):
        worker.env.pop(key, None)
    settings = settings_of(mtls, topic_prefix=worker.prefix)
    try:
        worker.start()  # creates the topics: the secured broker creates none by itself
        sim = subprocess.run(
            [str(CHURNWATCH), "simulate", "--customers", "40", "--days", "40", "--seed", "3", "--churn-share", "0.5"],
            env=worker.env,
            cwd=worker.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert sim.returncode == 0, sim.stderr[-2000:]
        found = re.search(r"simulate: (\d+) events", sim.stderr)
        assert found, sim.stderr
        worker.wait_for_events(int(found.group(1)), timeout=120)
        alerts = consume_all(settings, settings.topic("alerts"))
        assert alerts and all(key for key, _ in alerts)
    finally:
        worker.stop()


# Each: (what to change in the good settings, the command, the setting the one line must name)
WRONG = "wrong-" + secrets.token_hex(8)
CASES: dict[str, tuple[dict[str, str], str, str]] = {
    "kafka wrong password": ({"CHURNWATCH_KAFKA_SASL_PASSWORD": WRONG}, "worker", "CHURNWATCH_KAFKA_SASL_PASSWORD"),
    "kafka unknown CA": ({"CHURNWATCH_KAFKA_SSL_CAFILE": "untrusted"}, "worker", "CHURNWATCH_KAFKA_SSL_CAFILE"),
    "kafka plaintext client": (
        {"CHURNWATCH_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
        "worker",
        "CHURNWATCH_KAFKA_SECURITY_PROTOCOL",
    ),
    "redis wrong password": ({"CHURNWATCH_REDIS_URL": "wrong password"}, "worker", "CHURNWATCH_REDIS_URL"),
    "redis unknown CA": ({"CHURNWATCH_REDIS_SSL_CAFILE": "untrusted"}, "worker", "CHURNWATCH_REDIS_SSL_CAFILE"),
    "redis plaintext client": ({"CHURNWATCH_REDIS_URL": "plaintext"}, "worker", "CHURNWATCH_REDIS_URL"),
    "kafka TLS client, plaintext port": (
        {"CHURNWATCH_KAFKA_BOOTSTRAP": "plain bootstrap"},
        "worker",
        "CHURNWATCH_KAFKA_SECURITY_PROTOCOL",
    ),
    "redis TLS client, plaintext port": ({"CHURNWATCH_REDIS_URL": "plain redis"}, "worker", "CHURNWATCH_REDIS_URL"),
    "kafka mutual TLS, no client certificate": (
        {"CHURNWATCH_KAFKA_BOOTSTRAP": "mtls without certificate"},
        "worker",
        "CHURNWATCH_KAFKA_SSL_CERTFILE",
    ),
    "simulate wrong password": (
        {"CHURNWATCH_KAFKA_SASL_PASSWORD": WRONG},
        "simulate",
        "CHURNWATCH_KAFKA_SASL_PASSWORD",
    ),
}


@pytest.fixture(scope="module")
def bad_start_ups(
    secure: dict[str, str], mtls: dict[str, str], services: dict[str, str]
) -> dict[str, tuple[int | None, str]]:
    """Every case of CASES started at once (they mostly wait); each one's exit code and output."""
    procs = {}
    for case, (change, command, _) in CASES.items():
        env = {**os.environ, **secure}
        env.pop("CHURNWATCH_API_TOKEN", None)
        for key, value in change.items():
            if value == "untrusted":
                value = str(SECURE / "untrusted-ca.pem")
            elif value == "wrong password":
                value = re.sub(r"(//churnwatch:)[^@]*@", rf"\g<1>{WRONG}@", secure[key])
            elif value == "plaintext":
                value = secure[key].replace("rediss://", "redis://")
            elif value == "plain bootstrap":  # the plain local broker, with the SASL_SSL settings
                value = services["bootstrap"]
            elif value == "plain redis":
                value = services["redis_url"].replace("redis://", "rediss://")
            elif value == "mtls without certificate":
                env |= {k: v for k, v in mtls.items() if "CERTFILE" not in k and "KEYFILE" not in k}
                value = mtls[key]
            env[key] = value
        run = secrets.token_hex(4)
        env |= {
            "CHURNWATCH_TOPIC_PREFIX": f"t-badstart-{run}-",
            "CHURNWATCH_APP_ID": f"cw-badstart-{run}",
            "CHURNWATCH_WEB_PORT": str(free_port()),
            "CHURNWATCH_WEB_BIND": "127.0.0.1",
            "CHURNWATCH_DATA_DIR": str(LOGS.parent / f"test-badstart-{run}"),
        }
        argv = [str(CHURNWATCH), command] + (["-l", "info"] if command == "worker" else ["--customers", "5"])
        procs[case] = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
        )
    results: dict[str, tuple[int | None, str]] = {}
    for case, proc in procs.items():
        try:
            out, _ = proc.communicate(timeout=START_UP_TIMEOUT)
            results[case] = (proc.returncode, out)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            results[case] = (None, out)
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_a_misconfigured_secured_connection_fails_at_start_up_in_one_line(
    bad_start_ups: dict[str, tuple[int | None, str]], case: str
) -> None:
    code, output = bad_start_ups[case]
    assert code is not None, f"{case}: still running after {START_UP_TIMEOUT} s:\n{output[-2000:]}"
    lines = [line for line in output.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1, f"{case}: exit {code}, output:\n{output[-3000:]}"
    line = lines[0]
    setting = CASES[case][2]
    assert line.startswith("churnwatch: ") and setting in line, line
    assert_no_secret(output, [*known_secrets(), WRONG], f"the output of {case}")
