"""Dead-letter records (contract section 7): the original bytes, where they came from, and why."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from streams.errors import Reason
from streams.timefmt import format_ts_ms

SCHEMA_VERSION = 1
# The original bytes kept in a dead letter: base64 makes them 4/3 larger, and the record must stay
# under the producer's request limit (1 MiB by default) with room for the rest.
MAX_KEPT_VALUE = 512 * 1024
MAX_KEPT_KEY = 4 * 1024

HINTS = {
    Reason.INVALID_JSON: "send one UTF-8 JSON object per message",
    Reason.SCHEMA: "fix the field named in detail; the contract's section 2 lists every field and rule",
    Reason.KEY_MISMATCH: "produce with the message key equal to customer_id (UTF-8)",
    Reason.TOO_LARGE: "keep events under CHURNWATCH_MAX_EVENT_BYTES; drop fields churnwatch does not use",
    Reason.TOO_LATE: "events older than the allowed lateness cannot change windows already evaluated; "
    "replay them with `churnwatch replay` or raise CHURNWATCH_ALLOWED_LATENESS_SECONDS",
    Reason.FUTURE_TIMESTAMP: "check the producer's clock and the time zone of ts",
    Reason.PROCESSING_ERROR: "churnwatch failed on this event; the worker log has the traceback; please report it",
}


def dead_letter(
    *,
    value: bytes,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    reason: Reason | str,
    detail: str,
    received_at: float,
) -> dict[str, Any]:
    """The JSON-ready dead letter; ``value_base64`` holds the original bytes exactly, or, for a value
    over ``MAX_KEPT_VALUE`` bytes, its first ``MAX_KEPT_VALUE`` bytes (``value_truncated`` is then
    true; ``value_length`` and ``value_sha256`` always describe the whole original)."""
    reason = Reason(reason)
    truncated = len(value) > MAX_KEPT_VALUE
    if key is not None and len(key) > MAX_KEPT_KEY:
        key, truncated = key[:MAX_KEPT_KEY], True
    key_text: str | None = None
    if key is not None:
        try:
            key_text = key.decode("utf-8")
        except UnicodeDecodeError:
            key_text = None
    return {
        "schema_version": SCHEMA_VERSION,
        "reason": reason.value,
        "detail": detail,
        "hint": HINTS.get(reason, ""),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key_text,
        "key_base64": base64.b64encode(key).decode() if key is not None else None,
        "value_base64": base64.b64encode(value[:MAX_KEPT_VALUE]).decode(),
        "value_length": len(value),
        "value_sha256": hashlib.sha256(value).hexdigest(),
        "value_truncated": truncated,
        "received_at": format_ts_ms(received_at),
    }
