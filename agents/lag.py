"""Consumer lag per input partition: the broker's high watermark minus our position."""

from __future__ import annotations

import contextlib
from typing import Any

from agents.metrics import Metrics


async def update_lag(app: Any, metrics: Metrics, topics: set[str]) -> None:
    consumer = getattr(app, "consumer", None)
    if consumer is None:
        return
    with contextlib.suppress(Exception):  # lag is best effort: never let it disturb the worker
        for tp in consumer.assignment():
            if tp.topic not in topics:
                continue
            highwater = consumer.highwater(tp)
            position = consumer._read_offset.get(tp)
            if highwater is None:
                continue
            consumed = (position + 1) if position is not None else 0
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - consumed))
