"""Consumer lag per input partition: the broker's high watermark minus the next offset the worker
admits (``agents.input_order``; Faust's read position where it has admitted none since the
assignment). Faust's position alone runs ahead of what the worker admitted whenever messages are
skipped to be read again, and then showed no lag while the partition waited."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from agents.metrics import Metrics


async def update_lag(
    app: Any, metrics: Metrics, topics: AbstractSet[str], admitted: Callable[[Any], int | None] = lambda _tp: None
) -> None:
    consumer = getattr(app, "consumer", None)
    if consumer is None:
        return
    with contextlib.suppress(Exception):  # lag is best effort: never let it disturb the worker
        for tp in consumer.assignment():
            if tp.topic not in topics:
                continue
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            consumed = admitted(tp)
            if consumed is None:
                position = consumer._read_offset.get(tp)
                consumed = (position + 1) if position is not None else 0
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - consumed))
