"""The due-time index against a plain dict of latest due times: same customers, same times."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.due_index import DueIndex

customers = st.sampled_from([f"c-{i}" for i in range(8)])
times = st.floats(min_value=0, max_value=600, allow_nan=False).map(lambda x: round(x, 1))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("push"), times, customers),
        st.tuples(st.just("pop"), times, st.just("")),
        st.tuples(st.just("clear"), st.just(0.0), st.just("")),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(steps, st.sampled_from([1.0, 7.0, 60.0]))
def test_pops_what_a_dict_of_latest_times_would(ops: list[tuple[str, float, str]], width: float) -> None:
    index, model = DueIndex(width), {}
    for op, t, cid in ops:
        if op == "push":
            index.push(t, cid)
            model[cid] = t
        elif op == "clear":
            index.clear()
            model.clear()
        else:
            got = sorted(index.pop_due(t), key=lambda x: x[1])
            want = sorted(((due, c) for c, due in model.items() if due <= t), key=lambda x: x[1])
            assert got == want
            for _, c in want:
                del model[c]
        assert len(index) == len(model)
        peek = index.peek()
        if model:
            assert peek is not None and peek <= min(model.values())


def test_entries_stay_bounded_however_often_a_due_time_moves() -> None:
    index = DueIndex(1.0)
    for i in range(100_000):
        index.push(float(i % 5000), f"c-{i % 10}")
    assert index._entries <= 2 * len(index) + 1024
    assert len(index) == 10
    assert len(list(index.pop_due(10_000.0))) == 10
