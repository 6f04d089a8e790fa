"""Health check of the local services: a topic is created and a message round-trips; Redis answers PING."""

from __future__ import annotations

import sys
import time
import uuid

import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

TOPIC = "churnwatch-healthcheck"


def kafka_round_trip(bootstrap: str, deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            try:
                admin.create_topics([NewTopic(TOPIC, 1, 1)])
            except TopicAlreadyExistsError:
                pass
            finally:
                admin.close()
            marker = uuid.uuid4().hex.encode()
            producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
            meta = producer.send(TOPIC, marker).get(timeout=10)
            producer.close()
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=10000)
            tp = TopicPartition(TOPIC, meta.partition)
            consumer.assign([tp])
            consumer.seek(tp, meta.offset)
            for message in consumer:
                if message.value == marker:
                    consumer.close()
                    return
            consumer.close()
            last = RuntimeError("the message did not come back")
        except (KafkaError, OSError) as exc:
            last = exc
        time.sleep(1)
    raise SystemExit(f"Kafka at {bootstrap} failed the round trip: {last}")


def main() -> None:
    bootstrap, redis_url = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    kafka_round_trip(bootstrap, started + 90)
    redis.Redis.from_url(redis_url, socket_timeout=5).ping()
    print(f"services: healthy: Kafka round trip and Redis PING in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
