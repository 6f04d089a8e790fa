"""agents.input_order: each input partition's messages are admitted once, in offset order, from
the offset the consumer sought it to; a message beyond the next one has the partition read again."""

from __future__ import annotations

from agents.input_order import InputOrder, Verdict

LOGINS = ("logins", 3)
ORDERS = ("orders", 3)


def _admitted(order: InputOrder, tp: tuple[str, int], offsets: list[int]) -> list[int]:
    return [o for o in offsets if order.admit(tp, o) is Verdict.ADMIT]


def test_nothing_before_the_seek_then_each_offset_once_in_order() -> None:
    order = InputOrder()
    assert _admitted(order, LOGINS, [950, 951]) == []  # fetched before the seek: they come again
    order.start(LOGINS, 926)
    # a second delivery of an admitted offset is skipped
    assert _admitted(order, LOGINS, [926, 927, 927, 926, 928]) == [926, 927, 928]
    assert order.next_offset(LOGINS) == 929


def test_a_message_beyond_the_next_one_has_the_partition_read_again_once() -> None:
    """The failure this guards against: offset 954 was delivered before the seek and dropped (the
    partition not owned yet), the seek's second delivery of it was dropped by Faust's fetch loop,
    and 955 came next: it must not be admitted, or 954 is never applied."""
    order = InputOrder()
    order.start(LOGINS, 954)
    assert order.admit(LOGINS, 955) is Verdict.REREAD
    assert order.admit(LOGINS, 956) is Verdict.SKIP  # already being read again from 954
    assert _admitted(order, LOGINS, [954, 955, 956]) == [954, 955, 956]
    assert order.admit(LOGINS, 958) is Verdict.REREAD  # a new gap asks again


def test_a_partition_admitting_nothing_while_it_has_messages_to_read_is_stalled() -> None:
    order = InputOrder()
    order.start(LOGINS, 10)
    assert not order.stalled(LOGINS, highwater=10)  # nothing to read
    checks = [order.stalled(LOGINS, highwater=20) for _ in range(4)]
    assert checks == [False, False, True, False]  # three checks in a row at offset 10, then counting again
    assert order.admit(LOGINS, 10) is Verdict.ADMIT
    assert [order.stalled(LOGINS, highwater=20) for _ in range(3)] == [False, False, False]  # progress: from zero
    assert not order.stalled(ORDERS, highwater=5)  # not started: nothing to watch


def test_partitions_stopped_wait_for_their_next_start_and_start_again() -> None:
    order = InputOrder()
    order.start(LOGINS, 5)
    order.start(("logins", 1), 7)
    assert _admitted(order, LOGINS, [5, 6]) == [5, 6]
    order.stop([3])  # revoked, or assigned again: its messages come again from the committed offset
    assert not order.started(LOGINS) and order.started(("logins", 1))
    assert _admitted(order, LOGINS, [7]) == []
    order.start(LOGINS, 5)  # sought back: what was admitted before is admitted again
    assert _admitted(order, LOGINS, [5, 6, 7]) == [5, 6, 7]
