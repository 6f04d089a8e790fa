"""Producing events to the input topics (``churnwatch simulate`` without ``--out``)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from kafka import KafkaProducer

from agents.kafka_config import kafka_python_config
from agents.settings import Settings


def produce_events(settings: Settings, events: Iterable[dict[str, Any]], *, rate: float = 0.0) -> int:
    """Send each event (keyed by customer_id) to its input topic; ``rate`` events/s (0: no limit)."""
    topics = settings.input_topics
    producer = KafkaProducer(
        linger_ms=20,
        batch_size=256 * 1024,
        acks=1,
        max_in_flight_requests_per_connection=1,
        **kafka_python_config(settings),
    )
    sent = 0
    started = time.monotonic()
    try:
        for event in events:
            body = {k: v for k, v in event.items() if k != "type"}
            producer.send(topics[event["type"]], key=event["customer_id"].encode(), value=orjson.dumps(body))
            sent += 1
            if rate > 0:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0.005:
                    time.sleep(ahead)
        producer.flush()
    finally:
        producer.close()
    return sent
