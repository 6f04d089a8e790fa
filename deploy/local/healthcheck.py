"""Health check of the local services: a topic is created and a message round-trips; Redis answers PING.

    python deploy/local/healthcheck.py [--only kafka|redis] BOOTSTRAP REDIS_URL
    python deploy/local/healthcheck.py [--only kafka|redis] --env .cache/secure/secure.env

With ``--env``, the CHURNWATCH_* settings of that file (the secured twins: SASL_SSL, Redis ACL
and TLS) say where and how to connect, through the worker's own client configuration.

Retries for up to 90 s (a broker that just opened its port may still be electing itself).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

TOPIC = "churnwatch-healthcheck"


def kafka_round_trip(bootstrap: str, deadline: float, config: dict[str, Any] | None = None) -> None:
    servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
    config = config or {"bootstrap_servers": servers}
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(request_timeout_ms=5000, **config)
            try:
                admin.create_topics({TOPIC: {"num_partitions": 1, "replication_factor": 1}})
                admin.wait_for_topics([TOPIC])
            except TopicAlreadyExistsError:
                pass
            finally:
                admin.close()
            marker = uuid.uuid4().hex.encode()
            producer = KafkaProducer(acks="all", **config)
            try:
                meta = producer.send(TOPIC, key=b"health", value=marker).get(timeout=10)
            finally:
                producer.close()
            consumer = KafkaConsumer(consumer_timeout_ms=10000, **config)
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


def redis_ping(url: str, deadline: float, client: redis.Redis | None = None) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if (client or redis.Redis.from_url(url, socket_timeout=5)).ping():
                return
        except redis.RedisError as exc:
            last = exc
        time.sleep(0.5)
    raise SystemExit(f"Redis did not answer PING: {last}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("kafka", "redis"))
    parser.add_argument("--env", help="a file of CHURNWATCH_* settings (the secured twins)")
    parser.add_argument("bootstrap", nargs="?")
    parser.add_argument("redis_url", nargs="?")
    args = parser.parse_args()
    started = time.monotonic()
    done = []
    kafka_config: dict[str, Any] | None = None
    redis_client: redis.Redis | None = None
    what = ""
    if args.env:
        from agents.kafka_config import kafka_python_config
        from agents.redis_view import redis_client as make_redis_client
        from agents.settings import load_settings

        with open(args.env, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.rstrip("\n").partition("=")
                if sep and key.startswith("CHURNWATCH_"):
                    os.environ[key] = value
        settings = load_settings()
        args.bootstrap = settings.kafka_bootstrap
        kafka_config = kafka_python_config(settings)
        if settings.redis_url is not None:
            redis_client = make_redis_client(settings)
        what = f" ({settings.kafka_security_protocol.value})" if args.only == "kafka" else " (TLS, ACL user)"
    elif not (args.bootstrap and args.redis_url):
        parser.error("BOOTSTRAP and REDIS_URL, or --env FILE")
    if args.only in (None, "kafka"):
        kafka_round_trip(args.bootstrap, started + 90, kafka_config)
        done.append(f"Kafka round trip{what}")
    if args.only in (None, "redis"):
        redis_ping(args.redis_url or "", started + 30, redis_client)
        done.append(f"Redis PING{what}")
    print(f"services: healthy: {' and '.join(done)} in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
