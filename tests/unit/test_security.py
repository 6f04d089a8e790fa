"""The API token as users expect it (Bearer in any case, constant-time comparison, read from a file),
the warning for an open API on a non-loopback address, and secrets kept out of messages."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from agents.preflight import kafka_problem, redis_problem, speaks_tls
from agents.redis_view import safe_url
from agents.settings import SettingsError, load_settings
from agents.web import bearer_token, exposure_warning, token_matches

DIGEST = hashlib.sha256(b"s3cret-token").digest()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer s3cret-token", True),
        ("bearer s3cret-token", True),
        ("BEARER s3cret-token", True),
        ("BeArEr   s3cret-token ", True),
        ("Bearer s3cret-tokenX", False),
        ("Bearer s3cret", False),
        ("Basic s3cret-token", False),
        ("s3cret-token", False),
        ("Bearer", False),
        ("", False),
    ],
)
def test_bearer_scheme_is_case_insensitive_and_the_token_must_match(header: str, ok: bool) -> None:
    assert token_matches(bearer_token(header), DIGEST) is ok


def test_token_from_a_file_with_its_trailing_newline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHURNWATCH_API_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text("from-a-mounted-secret\n")
    monkeypatch.setenv("CHURNWATCH_API_TOKEN_FILE", str(token_file))
    s = load_settings()
    assert s.api_token is not None and s.api_token.get_secret_value() == "from-a-mounted-secret"
    assert "from-a-mounted-secret" not in repr(s) + str(s)


@pytest.mark.parametrize("case", ["missing", "empty", "both"])
def test_a_bad_token_file_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.delenv("CHURNWATCH_API_TOKEN", raising=False)
    token_file = tmp_path / "token"
    if case != "missing":
        token_file.write_text("\n" if case == "empty" else "file-token-secret")
    if case == "both":
        monkeypatch.setenv("CHURNWATCH_API_TOKEN", "env-token-secret")
    monkeypatch.setenv("CHURNWATCH_API_TOKEN_FILE", str(token_file))
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "CHURNWATCH_API_TOKEN_FILE" in message
    assert "secret" not in message


def test_an_empty_token_variable_means_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHURNWATCH_API_TOKEN_FILE", raising=False)
    monkeypatch.setenv("CHURNWATCH_API_TOKEN", "")
    assert load_settings().api_token is None


@pytest.mark.parametrize(
    ("bind", "token", "warns"),
    [
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("10.1.2.3", None, True),
        ("0.0.0.0", "t0ken", False),
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
    ],
)
def test_warns_when_the_api_is_open_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch, bind: str, token: str | None, warns: bool
) -> None:
    monkeypatch.delenv("CHURNWATCH_API_TOKEN_FILE", raising=False)
    monkeypatch.delenv("CHURNWATCH_API_TOKEN", raising=False)
    if token:
        monkeypatch.setenv("CHURNWATCH_API_TOKEN", token)
    monkeypatch.setenv("CHURNWATCH_WEB_BIND", bind)
    warning = exposure_warning(load_settings())
    assert (warning is not None) is warns
    if warning:
        assert "CHURNWATCH_API_TOKEN_FILE" in warning and "CHURNWATCH_WEB_BIND" in warning


def test_a_missing_ca_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("CHURNWATCH_KAFKA_SSL_CAFILE", "CHURNWATCH_REDIS_SSL_CAFILE"):
        monkeypatch.setenv(var, str(tmp_path / "nope.pem"))
        with pytest.raises(SettingsError, match=var):
            load_settings()
        monkeypatch.delenv(var)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("rediss://user:pa55word@host:6380/0", "rediss://user@host:6380/0"),
        ("redis://:pa55word@host/0", "redis://host/0"),
        ("redis://user:pa55@word@host:1", "redis://user@host:1"),
        ("rediss://host:1/0?password=pa55word", "rediss://host:1/0"),
    ],
)
def test_redis_urls_in_messages_carry_no_password(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unloadable_tls_files_are_named_before_any_connection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    not_a_cert = tmp_path / "ca.pem"
    not_a_cert.write_text("not a certificate\n")
    monkeypatch.setenv("CHURNWATCH_KAFKA_BOOTSTRAP", f"127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("CHURNWATCH_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("CHURNWATCH_KAFKA_SSL_CAFILE", str(not_a_cert))
    problem = kafka_problem(load_settings())
    assert problem is not None and "CHURNWATCH_KAFKA_SSL_CAFILE" in problem and "\n" not in problem


def test_an_unreachable_redis_is_an_outage_not_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("CHURNWATCH_REDIS_URL", f"redis://user:pa55word@127.0.0.1:{port}/0")
    assert redis_problem(load_settings()) is None
    assert not speaks_tls("127.0.0.1", port)
