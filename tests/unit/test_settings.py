"""Settings: every value from the environment, a clear message for a bad one, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.kafka_config import kafka_python_config
from agents.settings import Settings, SettingsError, load_settings


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CHURNWATCH_CLOCK", "CHURNWATCH_TICK_SECONDS", "CHURNWATCH_PARTITIONS", "CHURNWATCH_TOPIC_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.kafka_bootstrap == "localhost:9092" and s.partitions == 8 and s.web_port == 6066
    assert s.effective_tick_seconds == 60 and s.store == "memory://" and s.redis_url is None
    assert s.input_topics == {
        "login": "logins",
        "order": "orders",
        "payment": "payments",
        "support_ticket": "support-tickets",
    }
    monkeypatch.setenv("CHURNWATCH_CLOCK", "event")
    monkeypatch.setenv("CHURNWATCH_TOPIC_PREFIX", "acme.")
    s = load_settings()
    assert s.effective_tick_seconds == 86400 and s.topic("dead_letters") == "acme.dead-letters"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("CHURNWATCH_PARTITIONS", "eight"),
        ("CHURNWATCH_CLOCK", "sundial"),
        ("CHURNWATCH_WEB_PORT", "70000"),
        ("CHURNWATCH_STORE", "s3://bucket"),
        ("CHURNWATCH_MAX_FUTURE_SKEW", "-1"),
        ("CHURNWATCH_DEFAULT_CURRENCY", "euro"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert var in str(info.value) or "CHURNWATCH_STORE" in str(info.value)


def test_sasl_needs_credentials_and_secrets_stay_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURNWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "CHURNWATCH_KAFKA_SASL_USERNAME" in str(info.value)
    monkeypatch.setenv("CHURNWATCH_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("CHURNWATCH_KAFKA_SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("CHURNWATCH_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("CHURNWATCH_REDIS_URL", "redis://u:redis-secret@localhost:6379/0")
    monkeypatch.setenv("CHURNWATCH_API_TOKEN", "token-secret")
    s = load_settings()
    shown = repr(s) + str(s)
    assert "hunter2-secret" not in shown and "redis-secret" not in shown and "token-secret" not in shown
    config = kafka_python_config(s)
    assert config["sasl_mechanism"] == "SCRAM-SHA-512" and config["sasl_plain_password"] == "hunter2-secret"


def test_settings_object_has_every_contract_variable() -> None:
    names = {f"CHURNWATCH_{n.upper()}" for n in Settings.model_fields}
    for var in (
        "CHURNWATCH_KAFKA_BOOTSTRAP",
        "CHURNWATCH_TOPIC_PREFIX",
        "CHURNWATCH_PARTITIONS",
        "CHURNWATCH_RULES",
        "CHURNWATCH_CLOCK",
        "CHURNWATCH_TICK_SECONDS",
        "CHURNWATCH_REDIS_URL",
        "CHURNWATCH_WEB_PORT",
        "CHURNWATCH_STORE",
        "CHURNWATCH_LOST_AFTER_DAYS",
        "CHURNWATCH_MAX_EVENT_BYTES",
    ):
        assert var in names


def test_a_bad_model_file_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "model.yaml"
    bad.write_text("version: 1\nkind: mbgnbd\nparams: {r: 0.5, alpha: 40, a: 0.9}\n")
    monkeypatch.setenv("CHURNWATCH_MODEL", str(bad))
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "CHURNWATCH_MODEL" in str(info.value) and "params.b must be a positive number" in str(info.value)
    bad.write_text("version: 1\nkind: mbgnbd\nparams: {r: 0.5, alpha: 40, a: 0.9, b: 1.6}\n")
    from agents.model_file import cached_model

    cached_model.cache_clear()
    assert load_settings().model == bad
