"""orjson for every topic churnwatch owns: ``dumps``/``loads`` and a Faust codec named "orjson"."""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


class OrjsonCodec(codecs.Codec):
    """Faust codec: objects to JSON bytes with orjson (fast, and strict about NaN)."""

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def register_codec() -> None:
    """Register the codec under the name "orjson" (idempotent)."""
    codecs.register("orjson", OrjsonCodec())
