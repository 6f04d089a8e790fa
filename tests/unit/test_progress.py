"""The handled-offset record and the watermark: what recovery and lateness rest on."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from agents.progress import OffsetRanges, Progress
from agents.watermark import Watermark


@given(st.lists(st.integers(0, 300), max_size=200), st.integers(0, 320))
def test_ranges_hold_exactly_the_offsets_added_or_below_the_floor(offsets: list[int], floor: int) -> None:
    ranges = OffsetRanges()
    for o in offsets:
        ranges.add(o)
    assert all((o in ranges) == (o in set(offsets)) for o in range(0, 320))
    assert all(e1 < s2 for e1, s2 in zip(ranges.ends, ranges.starts[1:], strict=False))  # disjoint, not touching
    ranges.raise_floor(floor)
    assert all((o in ranges) == (o < floor or o in set(offsets)) for o in range(0, 320))


def test_in_order_offsets_are_one_range_and_a_held_one_leaves_a_gap() -> None:
    ranges = OffsetRanges()
    for o in [*range(0, 10), *range(11, 20)]:  # offset 10 is held by the aligner
        ranges.add(o)
    assert ranges.as_list() == [[0, 10], [11, 20]] and 10 not in ranges
    ranges.add(10)
    assert ranges.as_list() == [[0, 20]]


def test_progress_round_trips_through_its_encoding() -> None:
    progress = Progress()
    rng = random.Random(3)
    for _ in range(500):
        progress.add(rng.choice(["logins", "orders"]), rng.randrange(1000))
    progress.raise_floor("logins", 100)
    again = Progress.decode(progress.encode())
    for topic in ("logins", "orders", "payments"):
        assert all(again.seen(topic, o) == progress.seen(topic, o) for o in range(1100))
    assert Progress.decode(None).topics == {}


def test_the_watermark_is_the_slowest_busy_topic() -> None:
    marks = Watermark(["logins", "payments"], idle_seconds=3600)
    never_caught_up = lambda _topic: False  # noqa: E731
    assert marks.value(never_caught_up) == -math.inf  # payments unread and nothing seen: holds everything
    marks.observe("payments", 1000.0)  # the sparse topic runs ahead during a catch-up
    marks.observe("logins", 10.0)
    assert marks.value(never_caught_up) == 10.0  # never the fastest topic
    marks.observe("logins", 5.0)  # an older event does not move it back
    assert marks.value(never_caught_up) == 10.0


def test_a_caught_up_quiet_topic_holds_nothing_back() -> None:
    marks = Watermark(["logins", "payments"], idle_seconds=0.0)
    marks.observe("logins", 50.0)
    assert marks.value(lambda topic: topic == "payments") == 50.0
    assert marks.value(lambda _topic: True) == math.inf


def test_quiet_counts_only_while_caught_up() -> None:
    """After an outage a topic has brought nothing for longer than the grace; it holds the others
    back until it has been seen caught up for the whole grace again."""
    marks = Watermark(["logins", "orders"], idle_seconds=2.0)
    marks.observe("logins", 10.0)
    marks.observe("orders", 20.0)
    start = marks.arrived["logins"]
    caught = {"logins": True, "orders": False}
    assert not marks.idle("logins", caught.__getitem__, now=start + 1.0)  # first seen caught up: the grace starts
    assert marks.idle("logins", caught.__getitem__, now=start + 5.0)  # quiet and caught up for 4 s
    caught["logins"] = False  # the broker goes away: nothing fresh is known of logins
    assert not marks.idle("logins", caught.__getitem__, now=start + 6.0)
    caught["logins"] = True  # back, and nothing unread is visible yet (its producer still retrying)
    assert not marks.idle("logins", caught.__getitem__, now=start + 60.0)
    assert marks.value(caught.__getitem__) == 10.0  # logins still holds orders back
    assert not marks.idle("logins", caught.__getitem__, now=start + 61.9)
    assert marks.idle("logins", caught.__getitem__, now=start + 62.0)  # caught up for the whole grace
