"""Topic set-up with kafka-python's admin client (contract section 1), idempotent.

``ensure_topics`` creates whichever of the six topics is missing (the four inputs, ``alerts`` and
``dead-letters``) with the configured partition count and replication factor, waits until every
partition has a leader, and returns each topic's *actual* partition count: a topic that already
existed keeps its own count, which is what the co-partitioning check then looks at.

``python -m agents.topics`` does the same from the command line and prints the result.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import kafka.errors as kafka_errors
from kafka.admin import KafkaAdminClient

from agents.kafka_config import kafka_python_config
from agents.settings import Settings, SettingsError, load_settings

INPUTS = ("logins", "orders", "payments", "support_tickets")
OUTPUTS = ("alerts", "dead_letters")


def topic_names(settings: Settings) -> list[str]:
    """The six topic names of contract section 1, prefix and overrides applied, inputs first."""
    return [settings.topic(t) for t in INPUTS + OUTPUTS]


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(client_id="churnwatch-admin", request_timeout_ms=15000, **kafka_python_config(settings))


def ensure_topics(settings: Settings, partitions: int | None = None) -> dict[str, int]:
    """Create the six topics when missing; return every topic's partition count.

    ``partitions`` overrides ``settings.partitions`` for the topics created now. A topic that
    another client creates at the same time (TopicAlreadyExists) is fine; any other error raises.
    """
    count = partitions if partitions is not None else settings.partitions
    if count < 1:
        raise ValueError(f"partitions must be at least 1, not {count}")
    names = topic_names(settings)
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            specs = {n: {"num_partitions": count, "replication_factor": settings.replication_factor} for n in missing}
            result = admin.create_topics(specs, raise_errors=False)
            _raise_create_errors(result.get("topics", []))
            admin.wait_for_topics(missing, timeout_ms=30000)
        return _partition_counts(admin, names)
    finally:
        admin.close()


def _raise_create_errors(results: Iterable[Mapping[str, Any]]) -> None:
    for topic in results:
        error = kafka_errors.for_code(int(topic.get("error_code") or 0))
        if error is kafka_errors.NoError or error is kafka_errors.TopicAlreadyExistsError:
            continue
        message = topic.get("error_message") or ""
        raise error(f"cannot create topic {topic.get('name')!r}: {error.__name__} {message}".strip())


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    counts: dict[str, int] = {}
    for meta in admin.describe_topics(names):
        if not meta.get("error_code"):
            counts[str(meta.get("name") or meta.get("topic"))] = len(meta["partitions"])
    return counts


def input_partition_counts(settings: Settings) -> dict[str, int]:
    """Partition counts of the four input topics (absent topics are left out)."""
    names = [settings.topic(t) for t in INPUTS]
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        return _partition_counts(admin, [n for n in names if n in existing])
    finally:
        admin.close()


def co_partitioning_problem(counts: dict[str, int], expected: list[str]) -> str | None:
    """A clear message when the input topics are missing or differ in partition count."""
    missing = [n for n in expected if n not in counts]
    if missing:
        return f"input topic(s) missing: {', '.join(missing)}; create them (churnwatch creates them locally)"
    if len({counts[n] for n in expected}) > 1:
        detail = ", ".join(f"{name}={counts[name]}" for name in sorted(expected))
        return (
            f"the input topics must have the same partition count (they are co-partitioned by customer_id): "
            f"{detail}; add partitions so they match"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m agents.topics [PARTITIONS]``: create the topics and print their partition counts."""
    args = sys.argv[1:] if argv is None else argv
    try:
        settings = load_settings()
        partitions = int(args[0]) if args else None
        counts = ensure_topics(settings, partitions)
    except (SettingsError, ValueError) as exc:
        print(f"churnwatch topics: {exc}", file=sys.stderr)
        return 2
    except kafka_errors.KafkaError as exc:
        print(f"churnwatch topics: Kafka at {settings.kafka_bootstrap}: {exc}", file=sys.stderr)
        return 1
    for topic in topic_names(settings):
        print(f"{topic}: {counts.get(topic, '?')} partitions")
    problem = co_partitioning_problem(counts, [settings.topic(t) for t in INPUTS])
    if problem:
        print(f"churnwatch topics: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def partition_of(customer_id: str, partition_count: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as the Java client and kafka-python use
    it) gives a message keyed by ``customer_id``: where that customer's state lives."""
    from kafka.partitioner.default import murmur2

    return (murmur2(customer_id.encode()) & 0x7FFFFFFF) % partition_count
