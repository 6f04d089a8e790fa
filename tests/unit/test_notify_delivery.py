"""`churnwatch notify` without Kafka: the routing file, secrets, bodies, offsets, and deliveries
against a real HTTP receiver on loopback that fails on purpose (5xx, 429 with Retry-After,
timeouts, 4xx)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from agents.notify.delivery import Result, deliver, retry_after_seconds
from agents.notify.formats import body, digest_body, digest_key
from agents.notify.offsets import OffsetTracker
from agents.notify.routes import Redactor, Route, RoutesError, load_routes
from tests.webhook_receiver import Receiver

ALERT: dict[str, Any] = {
    "schema_version": 1,
    "alert_id": "a" * 32,
    "customer_id": "c-42",
    "status": "firing",
    "tier": "at_risk",
    "previous_tier": "watch",
    "risk_score": 61.2,
    "event_time": "2026-11-22T14:16:30Z",
    "emitted_at": "2026-11-22T14:16:30.120Z",
    "rules": [{"rule": "login_inactivity", "weight": 35, "reason": "no login for 15.2 days (threshold 14)"}],
    "signals": {"customer_value": 1840.0},
    "revenue_at_risk": 1126.1,
}


def _routes(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Any:
    file = tmp_path / "routes.yaml"
    file.write_text(text)
    return load_routes(file, env or {})


def test_routes_match_by_tier_rule_and_status_and_read_secrets_from_the_environment(tmp_path: Path) -> None:
    routes = _routes(
        tmp_path,
        """
routes:
  - name: crm
    url: https://crm.example.com/hooks/${CRM_PATH}
    headers: {Authorization: "Bearer ${CRM_TOKEN}"}
  - name: chat
    url: ${CHAT_URL}
    format: chat
    match: {status: firing, tier: [at_risk, critical], rule: [login_inactivity, chargeback]}
    digest_seconds: 300
""",
        {"CRM_PATH": "s3cr3t-path", "CRM_TOKEN": "tok-123456", "CHAT_URL": "https://chat.example.com/hooks/xyzzy-42"},
    )
    crm, chat = routes.routes
    assert crm.url == "https://crm.example.com/hooks/s3cr3t-path"
    assert crm.headers == {"Authorization": "Bearer tok-123456"}
    assert chat.format == "chat" and chat.digest_seconds == 300
    assert [r.name for r in routes.for_alert(ALERT)] == ["crm", "chat"]
    assert [r.name for r in routes.for_alert({**ALERT, "tier": "watch"})] == ["crm"]
    assert [r.name for r in routes.for_alert({**ALERT, "status": "resolved"})] == ["crm"]
    assert [r.name for r in routes.for_alert({**ALERT, "rules": [{"rule": "ticket_spike"}]})] == ["crm"]
    # never shown: not in the repr, not in what the redactor lets through
    for secret in ("s3cr3t-path", "tok-123456", "xyzzy-42"):
        assert secret not in repr(routes.routes)
        assert secret not in routes.redactor(f"error at {crm.url} with {chat.url}: Bearer tok-123456")
    assert crm.where == "https://crm.example.com/…"


def test_a_bad_routing_file_names_each_problem_with_its_line_and_no_secret(tmp_path: Path) -> None:
    with pytest.raises(RoutesError) as err:
        _routes(
            tmp_path,
            """routes:
  - name: a
    url: ${MISSING_URL}
  - name: b
    url: ftp://x
    format: email
    match: {tier: [gold]}
    colour: red
  - name: c
    url: https://ok.example.com/${TOKEN}
    max_attempts: 0
""",
            {"TOKEN": "very-secret-token"},
        )
    text = str(err.value)
    assert "routes.yaml:2: route 'a': environment variable MISSING_URL is not set" in text
    assert "routes.yaml:5: route 'b': `url` must be an http:// or https:// URL" in text
    assert "routes.yaml:6: route 'b': `format` must be one of json, chat" in text
    assert "routes.yaml:7: route 'b': match.tier must be among" in text
    assert "routes.yaml:8: route 2: unknown key 'colour'" in text
    assert "routes.yaml:11: route 'c': `max_attempts` must be a number >= 1" in text
    assert "very-secret-token" not in text


def test_bodies_json_is_the_alert_chat_is_text_and_digests_sum_up() -> None:
    assert orjson.loads(body("json", ALERT)) == ALERT
    chat = orjson.loads(body("chat", ALERT))
    assert set(chat) == {"text"} and "c-42" in chat["text"] and "at_risk" in chat["text"]
    assert "no login for 15.2 days" in chat["text"]
    resolved = orjson.loads(body("chat", {**ALERT, "status": "resolved", "tier": "healthy", "rules": []}))
    assert "healthy again" in resolved["text"]
    many = [{**ALERT, "alert_id": f"{i:032d}", "customer_id": f"c-{i}"} for i in range(30)]
    digest = orjson.loads(digest_body("json", "crm", many, 300))
    assert digest["count"] == 30 and digest["by_status_tier"] == {"firing at_risk": 30}
    assert digest["alert_ids"] == [a["alert_id"] for a in many] and len(digest["alerts"]) == 20
    text = orjson.loads(digest_body("chat", "crm", many, 300))["text"]
    assert text.startswith("churnwatch digest (crm): 30 alert(s)") and "… and 10 more" in text
    assert digest_key(many) == digest_key(list(reversed(many))) != digest_key(many[:-1])


def test_offsets_commit_only_below_the_first_delivery_not_done() -> None:
    t: OffsetTracker[str] = OffsetTracker()
    t.read("p0", 10, 2)  # two routes
    t.read("p0", 11, 0)  # no route: done at once
    t.read("p0", 12, 1)
    assert t.committable() == {"p0": 10}
    t.done("p0", 12)
    t.done("p0", 10)
    assert t.committable() == {"p0": 10}  # one of its two deliveries is still owed
    t.done("p0", 10)
    assert t.committable() == {"p0": 13}
    t.forget({"p0"})
    t.done("p0", 12)  # late, after a revocation: ignored
    assert t.committable() == {}


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def _deliver(url: str, **kw: Any) -> Result:
    route = Route(name="t", url=url, headers={"Authorization": "Bearer sekrit-token"})
    options = {"timeout": 0.5, "max_attempts": 4, "backoff_initial": 0.05, "backoff_max": 3.0, **kw}

    async def go() -> Result:
        async with aiohttp.ClientSession() as session:
            return await deliver(
                session,
                route,
                b"{}",
                {"Idempotency-Key": "k1", "Content-Type": "application/json"},
                redact=Redactor([url, "sekrit-token"]),
                **options,
            )

    return asyncio.run(go())


def test_delivery_retries_5xx_honours_retry_after_and_times_out() -> None:
    def plan(path: str, key: str, attempt: int) -> tuple[int, dict[str, str], float]:
        if path == "/flaky":
            return (500, {}, 0.0) if attempt == 1 else (200, {}, 0.0)
        if path == "/busy":
            return (429, {"Retry-After": "1"}, 0.0) if attempt == 1 else (200, {}, 0.0)
        if path == "/slow":
            return (200, {}, 1.0) if attempt == 1 else (200, {}, 0.0)
        if path == "/bad":
            return 400, {}, 0.0
        if path == "/moved":
            return 301, {"Location": "http://elsewhere.example.com/"}, 0.0
        return 503, {}, 0.0

    with Receiver(plan) as rx:
        flaky = _deliver(rx.url("/flaky"))
        assert flaky.ok and flaky.attempts == 2
        started = time.monotonic()
        busy = _deliver(rx.url("/busy"))
        assert busy.ok and busy.attempts == 2 and time.monotonic() - started >= 0.95  # waited as told
        slow = _deliver(rx.url("/slow"))
        assert slow.ok and slow.attempts == 2
        bad = _deliver(rx.url("/bad"))
        assert not bad.ok and bad.attempts == 1 and bad.reason == "rejected" and "400" in bad.detail
        moved = _deliver(rx.url("/moved"))
        assert not moved.ok and moved.attempts == 1 and "redirects are not followed" in moved.detail
        down = _deliver(rx.url("/down-secret-path"), max_attempts=3)
        assert not down.ok and down.attempts == 3 and down.reason == "retries_exhausted" and "503" in down.detail
        closed = _deliver("http://127.0.0.1:9/closed-secret-path", max_attempts=2)
        assert not closed.ok and "secret-path" not in closed.detail
        for request in rx.requests:
            assert request["headers"]["Idempotency-Key"] == "k1"
            assert request["headers"]["Authorization"] == "Bearer sekrit-token"


def test_notify_check_shows_routes_without_secrets_and_refuses_a_bad_file(tmp_path: Path) -> None:
    import os
    import subprocess

    churnwatch = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "churnwatch"
    env = {**os.environ, "HOOK": "zz-secret-hook-path", "TOKEN": "zz-secret-token"}
    good = tmp_path / "good.yaml"
    good.write_text(
        "routes:\n  - name: crm\n    url: https://crm.example.com/${HOOK}\n"
        "    headers: {Authorization: 'Bearer ${TOKEN}'}\n    match: {tier: critical}\n"
    )
    proc = subprocess.run(
        [str(churnwatch), "notify", "--check", "--routes", str(good)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "route crm: json to https://crm.example.com/…" in proc.stderr and "OK, 1 route(s)" in proc.stderr
    assert "zz-secret" not in proc.stdout + proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  - name: crm\n    url: https://crm.example.com/${NOT_SET_ANYWHERE}\n")
    proc = subprocess.run(
        [str(churnwatch), "notify", "--check", "--routes", str(bad)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"churnwatch: {bad}:2: route 'crm': environment variable NOT_SET_ANYWHERE is not set" in proc.stderr


def test_the_example_routing_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "notify" / "notify.example.yaml"
    env = {
        "CRM_WEBHOOK_URL": "https://crm.example.com/h/1",
        "CRM_TOKEN": "t0k3n",
        "CHAT_WEBHOOK_URL": "https://c.example.com/x",
    }
    routes = load_routes(example, env)
    assert [r.name for r in routes.routes] == ["crm", "cs-chat", "daily-digest"]
    assert routes.routes[2].digest_seconds == 86400
