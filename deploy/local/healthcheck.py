"""Health check of the local services: a topic is created and a message round-trips; Redis answers PING.

    python deploy/local/healthcheck.py [--only kafka|redis] BOOTSTRAP REDIS_URL

Retries for up to 90 s (a broker that just opened its port may still be electing itself).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

TOPIC = "churnwatch-healthcheck"


def kafka_round_trip(bootstrap: str, deadline: float) -> None:
    servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=5000)
            try:
                admin.create_topics({TOPIC: {"num_partitions": 1, "replication_factor": 1}})
                admin.wait_for_topics([TOPIC])
            except TopicAlreadyExistsError:
                pass
            finally:
                admin.close()
            marker = uuid.uuid4().hex.encode()
            producer = KafkaProducer(bootstrap_servers=servers, acks="all")
            try:
                meta = producer.send(TOPIC, key=b"health", value=marker).get(timeout=10)
            finally:
                producer.close()
            consumer = KafkaConsumer(bootstrap_servers=servers, consumer_timeout_ms=10000)
            try:
                tp = TopicPartition(TOPIC, meta.partition)
                consumer.assign([tp])
                consumer.seek(tp, meta.offset)
                if any(message.value == marker for message in consumer):
                    return
            finally:
                consumer.close()
            last = RuntimeError("the message did not come back")
        except (KafkaError, OSError) as exc:
            last = exc
        time.sleep(1)
    raise SystemExit(f"Kafka at {bootstrap} failed the round trip: {last}")


def redis_ping(url: str, deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url, socket_timeout=5).ping():
                return
        except redis.RedisError as exc:
            last = exc
        time.sleep(0.5)
    raise SystemExit(f"Redis did not answer PING: {last}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("kafka", "redis"))
    parser.add_argument("bootstrap")
    parser.add_argument("redis_url")
    args = parser.parse_args()
    started = time.monotonic()
    done = []
    if args.only in (None, "kafka"):
        kafka_round_trip(args.bootstrap, started + 90)
        done.append("Kafka round trip")
    if args.only in (None, "redis"):
        redis_ping(args.redis_url, started + 30)
        done.append("Redis PING")
    print(f"services: healthy: {' and '.join(done)} in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
