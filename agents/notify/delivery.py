"""One webhook delivery: POST with retries and backoff (tenacity), ``Idempotency-Key`` = the alert id.

Retried: timeouts, connection errors, 408, 425, 429 and 5xx; a ``Retry-After`` (seconds or an
HTTP date) on 429/503 is honoured, capped at the backoff maximum. Not retried: any other 4xx
(the receiver refuses this request; sending it again cannot help). Every error text goes through
the route's :class:`~agents.notify.routes.Redactor` before anyone sees it.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from agents.notify.routes import Redactor, Route

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))


class Retryable(Exception):
    def __init__(self, reason: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Result:
    ok: bool
    attempts: int
    reason: str = ""  # when not ok: rejected, retries_exhausted
    detail: str = ""
    status: int | None = None
    seconds: float = 0.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After``: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Wait:
    """Exponential backoff with jitter; a Retry-After the receiver gave wins (capped)."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.maximum = maximum
        self.backoff = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.maximum)
        return float(self.backoff(state))


async def post_once(
    session: aiohttp.ClientSession,
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    redact: Redactor,
) -> int:
    """One attempt; the status on 2xx/3xx, else :class:`Retryable` or :class:`Rejected`."""
    try:
        async with session.post(
            route.url,
            data=body,
            headers={**headers, **route.headers},
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as resp:
            await resp.read()
            status = resp.status
            if 200 <= status < 300:
                return status
            if status < 400:  # a redirect is not an acceptance, and following one could leak the body
                raise Rejected(f"http_{status}", f"HTTP {status}: redirects are not followed; use the final URL")
            if status in RETRY_STATUSES:
                after = retry_after_seconds(resp.headers.get("Retry-After")) if status in (429, 503) else None
                raise Retryable(f"http_{status}", f"HTTP {status} {resp.reason or ''}".strip(), after)
            raise Rejected(f"http_{status}", f"HTTP {status} {resp.reason or ''}".strip())
    except TimeoutError:
        raise Retryable("timeout", f"no answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise Retryable("connection", redact(f"{type(exc).__name__}: {exc}")) from None


async def deliver(
    session: aiohttp.ClientSession,
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    *,
    redact: Redactor,
    timeout: float,
    max_attempts: int,
    backoff_initial: float,
    backoff_max: float,
    on_retry: Callable[[str], Any] | None = None,
) -> Result:
    """POST ``body`` until it is accepted, refused or out of attempts; never raises (but cancels)."""
    started = time.monotonic()
    attempts = 0
    status = 0

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and isinstance(exc, Retryable):
            on_retry(exc.reason)

    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(max_attempts),
            wait=_Wait(backoff_initial, backoff_max),
            retry=retry_if_exception_type(Retryable),
            before_sleep=before_sleep,
            sleep=asyncio.sleep,
            reraise=True,
        ):
            with attempt:
                attempts += 1
                status = await post_once(session, route, body, headers, timeout, redact)
        return Result(True, attempts, status=status, seconds=time.monotonic() - started)
    except Rejected as exc:
        return Result(False, attempts, "rejected", redact(exc.detail), seconds=time.monotonic() - started)
    except Retryable as exc:
        return Result(
            False,
            attempts,
            "retries_exhausted",
            redact(f"{exc.detail} (last of {attempts} attempts; {exc.reason})"),
            seconds=time.monotonic() - started,
        )
