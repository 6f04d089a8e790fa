"""Topic names and the co-partitioning check (no broker needed)."""

from __future__ import annotations

from agents.settings import Settings
from agents.topics import co_partitioning_problem, topic_names


def test_the_six_topics_follow_the_prefix_and_per_topic_names() -> None:
    settings = Settings(topic_prefix="prod.", topic_support_tickets="tickets")  # type: ignore[call-arg]
    assert topic_names(settings) == [
        "prod.logins",
        "prod.orders",
        "prod.payments",
        "prod.tickets",
        "prod.alerts",
        "prod.dead-letters",
    ]


def test_equal_partition_counts_are_fine() -> None:
    inputs = ["logins", "orders", "payments", "support-tickets"]
    assert co_partitioning_problem(dict.fromkeys(inputs, 8), inputs) is None


def test_a_different_count_is_named_with_every_count() -> None:
    inputs = ["logins", "orders", "payments", "support-tickets"]
    counts = {**dict.fromkeys(inputs, 8), "payments": 4}
    problem = co_partitioning_problem(counts, inputs)
    assert problem is not None
    assert "same partition count" in problem and "payments=4" in problem and "logins=8" in problem


def test_a_missing_input_topic_is_named() -> None:
    inputs = ["logins", "orders", "payments", "support-tickets"]
    problem = co_partitioning_problem({"logins": 8, "orders": 8, "payments": 8}, inputs)
    assert problem is not None and "support-tickets" in problem


def test_only_the_input_topics_are_compared() -> None:
    inputs = ["logins", "orders"]
    assert co_partitioning_problem({"logins": 2, "orders": 2, "alerts": 7}, inputs) is None
