"""The due-time index against a plain dict of latest due times: same customers, same times.

The dict is also what the index reads each customer's current due time from (the engine's
states, in the engine); a popped customer's time is gone from it until pushed again, as an
engine pushes every customer it pops after evaluating it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.due_index import DueIndex

customers = st.sampled_from([f"c-{i}" for i in range(8)])
times = st.floats(min_value=0, max_value=600, allow_nan=False).map(lambda x: round(x, 1))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("push"), times, customers),
        st.tuples(st.just("pop_ids"), times, st.just("")),
        st.tuples(st.just("clear"), st.just(0.0), st.just("")),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(steps, st.sampled_from([1.0, 7.0, 60.0]))
def test_pops_what_a_dict_of_latest_times_would(ops: list[tuple[str, float, str]], width: float) -> None:
    model: dict[str, float] = {}
    index = DueIndex(model.get, width)
    for op, t, cid in ops:
        if op == "push":
            model[cid], old = t, model.get(cid)
            index.push(t, cid, old)
        elif op == "pop_ids":
            want_ids = sorted(c for c, due in model.items() if due <= t)
            assert index.pop_ids(t) == want_ids  # in id order, each once
            for c in want_ids:
                del model[c]
        else:
            index.clear()
            model.clear()
        assert len(index) <= 2 * len(model) + 1024
        peek = index.peek()
        if model:
            assert peek is not None and peek < min(model.values())  # (the engine's first tick: after it)


def test_entries_stay_bounded_however_often_a_due_time_moves() -> None:
    model: dict[str, float] = {}
    index = DueIndex(model.get, 1.0)
    for i in range(100_000):
        cid = f"c-{i % 10}"
        model[cid], old = float(i % 5000), model.get(cid)
        index.push(model[cid], cid, old)
    assert len(index) <= 2 * 10 + 1024
    assert len(index.pop_ids(10_000.0)) == 10


def test_a_compaction_keeps_the_customer_being_pushed_before_its_state_says_so() -> None:
    model: dict[str, float] = {}
    index = DueIndex(model.get, 1.0)
    for i in range(1030):
        model[f"c-{i}"] = float(i)
        index.push(float(i), f"c-{i}")
    index.push(5000.0, "c-new")  # compacts; "c-new" has no due time in the model yet
    model["c-new"] = 5000.0
    assert len(index) == 1031
    assert "c-new" in index.pop_ids(6000.0) and len(index) == 0


def test_a_bucket_holds_the_due_times_after_its_start_up_to_its_end() -> None:
    # a tick at a multiple of the width pops the due times up to it, its own included, and
    # leaves the next bucket untouched: the event clock's ticks scan no bucket twice
    model = {"at-end": 120.0, "just-after": 120.5, "next-end": 180.0}
    index = DueIndex(model.get, 60.0)
    for cid, due in model.items():
        index.push(due, cid)
    assert index.peek() == 60.0
    assert index.pop_ids(120.0) == ["at-end"]
    del model["at-end"]
    assert index.peek() == 120.0 and len(index) == 2  # the next bucket, whole
    assert sorted(index.pop_ids(180.0)) == ["just-after", "next-end"] and len(index) == 0


def test_a_bucket_popped_in_part_keeps_the_later_ones() -> None:
    model = {"a": 61.0, "b": 100.0, "c": 119.0}
    index = DueIndex(model.get, 60.0)
    for cid, due in model.items():
        index.push(due, cid)
    assert [(model[cid], cid) for cid in index.pop_ids(100.0)] == [(61.0, "a"), (100.0, "b")]
    del model["a"], model["b"]
    assert len(index) == 1 and index.pop_ids(119.0) == ["c"]


def test_a_customer_back_in_a_bucket_it_left_is_popped_once() -> None:
    model: dict[str, float] = {}
    index = DueIndex(model.get, 60.0)
    for due in (70.0, 130.0, 80.0, 140.0, 90.0):  # three entries in (60, 120], all live at the end
        model["b"], old = due, model.get("b")
        index.move("b", due, old)
    model["a"] = 100
    index.move("a", 100)  # an int due time, as a state may hold one
    assert len(index) == 6
    assert index.pop_ids(120.0) == ["a", "b"] and len(index) == 2  # the stale ones in 120-180
