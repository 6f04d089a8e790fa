"""Topic set-up with kafka-python's admin client (contract section 1), idempotent."""

from __future__ import annotations

import contextlib

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from agents.kafka_config import kafka_python_config
from agents.settings import Settings, load_settings

INPUTS = ("logins", "orders", "payments", "support_tickets")
OUTPUTS = ("alerts", "dead_letters")


def ensure_topics(settings: Settings, partitions: int | None = None) -> dict[str, int]:
    """Create the six topics when missing; returns every topic's partition count."""
    count = partitions or settings.partitions
    names = [settings.topic(t) for t in INPUTS + OUTPUTS]
    admin = KafkaAdminClient(client_id="churnwatch-admin", **kafka_python_config(settings))
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name=n, num_partitions=count, replication_factor=settings.replication_factor)
            for n in names
            if n not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, validate_only=False)
        return _partition_counts(admin, names)
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for meta in admin.describe_topics(names):
        if not meta.get("error_code"):
            counts[meta.get("name") or meta["topic"]] = len(meta["partitions"])
    return counts


def input_partition_counts(settings: Settings) -> dict[str, int]:
    """Partition counts of the four input topics (absent topics are left out)."""
    names = [settings.topic(t) for t in INPUTS]
    admin = KafkaAdminClient(client_id="churnwatch-admin", **kafka_python_config(settings))
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
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in sorted(counts.items()))
        return (
            f"the input topics must have the same partition count (they are co-partitioned by customer_id): "
            f"{detail}; add partitions so they match"
        )
    return None


if __name__ == "__main__":
    for topic, n in sorted(ensure_topics(load_settings()).items()):
        print(f"{topic}: {n} partitions")
