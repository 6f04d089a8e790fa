"""Bad input (contract section 7): a machine-readable reason and a human-readable detail."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA = "schema"
    KEY_MISMATCH = "key_mismatch"
    TOO_LARGE = "too_large"
    TOO_LATE = "too_late"
    FUTURE_TIMESTAMP = "future_timestamp"
    PROCESSING_ERROR = "processing_error"  # a bug or corrupt state: the event is kept, the worker goes on


class BadInput(Exception):
    """An event that breaks a rule of the contract.

    ``reason`` is one of :class:`Reason`; ``detail`` says what failed, where (the field) and,
    where it helps, what to do.
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
