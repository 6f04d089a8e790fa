"""Input messages are acknowledged in offset order per partition, whatever order they are handled in."""

from __future__ import annotations

from agents.ack_order import AckOrder


def test_a_held_message_holds_back_the_later_ones_of_its_partition() -> None:
    order = AckOrder()
    acked: list[tuple[str, int]] = []
    slots = {o: order.received(("logins", 3), o) for o in (1119, 1120, 1121)}
    other = order.received(("orders", 3), 7)

    def ack(topic: str, offset: int) -> object:
        return lambda: acked.append((topic, offset))

    # the aligner releases 1120 and 1121 (earlier in event time) before 1119
    AckOrder.handled(slots[1120], ack("logins", 1120))
    AckOrder.handled(slots[1121], ack("logins", 1121))
    AckOrder.handled(other, ack("orders", 7))
    for due in order.take([3]).values():
        for a in due:
            a()
    assert acked == [("orders", 7)]  # nothing of logins: 1119 is not handled yet
    AckOrder.handled(slots[1119], ack("logins", 1119))
    for due in order.take([3]).values():
        for a in due:
            a()
    assert acked[1:] == [("logins", 1119), ("logins", 1120), ("logins", 1121)]
    assert order.waiting() == 0


def test_forgotten_partitions_and_other_partitions() -> None:
    order = AckOrder()
    a = order.received(("logins", 0), 5)
    b = order.received(("logins", 1), 9)
    AckOrder.handled(a, lambda: None)
    AckOrder.handled(b, lambda: None)
    assert list(order.take([1])) == [1] and order.waiting() == 1  # partition 0 not asked for
    assert order.last(("logins", 0)) == 5 and order.last(("logins", 1)) == 9
    order.forget([0])  # revoked: its messages come again from the committed offset
    assert order.last(("logins", 0)) is None and order.last(("logins", 1)) == 9
    assert order.waiting() == 0 and order.take([0, 1]) == {1: []}


def test_a_topic_partition_sought_back_is_forgotten_alone() -> None:
    order = AckOrder()
    logins = order.received(("logins", 0), 5)
    orders = order.received(("orders", 0), 2)
    AckOrder.handled(logins, lambda: None)
    AckOrder.handled(orders, lambda: None)
    order.forget_topic_partition(("logins", 0))  # its messages come again from the committed offset
    assert order.last(("logins", 0)) is None and order.last(("orders", 0)) == 2
    assert [len(acks) for acks in order.take([0]).values()] == [1]
