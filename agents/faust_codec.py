"""orjson for every topic churnwatch owns: a Faust codec named "orjson" (the worker registers it)."""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs


class OrjsonCodec(codecs.Codec):
    """Faust codec: objects to JSON bytes with orjson (fast, and strict about NaN)."""

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def register_codec() -> None:
    """Register the codec under the name "orjson" (idempotent)."""
    codecs.register("orjson", OrjsonCodec())
