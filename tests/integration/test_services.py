"""The local services a user relies on: the broker takes topics and round-trips messages with both
Python clients churnwatch uses (kafka-python for admin/tools, aiokafka under Faust), Redis answers,
and churnwatch's topic set-up is idempotent and reports partition counts."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from agents.settings import Settings
from agents.topics import co_partitioning_problem, ensure_topics, input_partition_counts, topic_names

pytestmark = pytest.mark.integration


def unique(name: str) -> str:
    return f"t-services-{name}-{uuid.uuid4().hex[:8]}"


def settings_for(bootstrap: str, prefix: str) -> Settings:
    return Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix)  # type: ignore[call-arg]


def test_kafka_python_creates_a_topic_and_a_message_round_trips(kafka_bootstrap: str) -> None:
    topic = unique("kp")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": 2, "replication_factor": 1}})
        admin.wait_for_topics([topic])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        meta = producer.send(topic, key=b"c-42", value=b'{"hello": "kafka"}').get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=15000)
    try:
        tp = TopicPartition(topic, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        message = next(iter(consumer))
    finally:
        consumer.close()
    assert (message.key, message.value) == (b"c-42", b'{"hello": "kafka"}')


def test_aiokafka_round_trips_through_a_consumer_group(kafka_bootstrap: str) -> None:
    topic = unique("aio")

    async def round_trip() -> tuple[bytes | None, bytes | None]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=b"c-7", value=b"ping")  # auto-created, 1 partition
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, group_id=unique("group"), auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
            await consumer.commit()
        finally:
            await consumer.stop()
        return message.key, message.value

    assert asyncio.run(round_trip()) == (b"c-7", b"ping")


def test_redis_answers_ping_and_keeps_a_value(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    key = unique("redis")
    try:
        assert client.ping()
        client.set(key, b"v", ex=60)
        assert client.get(key) == b"v"
    finally:
        client.delete(key)
        client.close()


def test_ensure_topics_creates_the_six_topics_once(kafka_bootstrap: str) -> None:
    settings = settings_for(kafka_bootstrap, unique("six") + "-")
    first = ensure_topics(settings, partitions=3)
    again = ensure_topics(settings, partitions=5)  # existing topics keep their partition count
    assert first == again == {name: 3 for name in topic_names(settings)}
    assert set(input_partition_counts(settings).values()) == {3}


def test_inputs_with_different_partition_counts_are_reported(kafka_bootstrap: str) -> None:
    settings = settings_for(kafka_bootstrap, unique("mismatch") + "-")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics({settings.topic("orders"): {"num_partitions": 2, "replication_factor": 1}})
        admin.wait_for_topics([settings.topic("orders")])
    finally:
        admin.close()
    ensure_topics(settings, partitions=4)
    counts = input_partition_counts(settings)
    problem = co_partitioning_problem(counts, list(settings.input_topics.values()))
    assert problem is not None
    assert f"{settings.topic('orders')}=2" in problem and f"{settings.topic('logins')}=4" in problem
