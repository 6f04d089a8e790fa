"""The aggregates' compact queue of times behaves as the deque it replaced."""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.aggregates import TimeQueue

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 10_000)),
        st.tuples(st.just("pop"), st.just(0)),
        st.tuples(st.just("drop"), st.integers(0, 10_000)),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_same_as_a_deque(steps: list[tuple[str, int]]) -> None:
    queue, model = TimeQueue(), deque[float]()
    for op, t in steps:
        if op == "append":
            queue.append(float(t))
            model.append(float(t))
        elif op == "pop" and model:
            queue.pop()
            model.pop()
        elif op == "drop":
            queue.drop_until(float(t))
            while model and model[0] <= t:
                model.popleft()
        assert len(queue) == len(model)


def test_dropped_times_free_their_room() -> None:
    queue = TimeQueue()
    for t in range(20_000):
        queue.append(float(t))
    queue.drop_until(15_000.0)
    assert len(queue) == 4_999
    assert len(queue._times) < 20_000
