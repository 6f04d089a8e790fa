"""agents.packed_table: a str -> bytes mapping with the values packed in one arena, checked
against a dict through writes, overwrites (same, larger and smaller values), deletions,
compactions and resizes."""

from __future__ import annotations

import random

import pytest

from agents import packed_table
from agents.packed_table import PackedTable


def test_reads_writes_and_iterates_like_a_dict() -> None:
    t = PackedTable()
    assert len(t) == 0 and t.get("c-1") is None and "c-1" not in t and list(t) == []
    t["c-1"] = b"one"
    t["c-2"] = b""
    assert t["c-1"] == b"one" and t["c-2"] == b"" and t.get("c-3", b"d") == b"d"
    assert isinstance(t["c-1"], bytes)
    assert sorted(t) == ["c-1", "c-2"] and len(t) == 2 and "c-1" in t and 5 not in t
    assert t == {"c-1": b"one", "c-2": b""}
    with pytest.raises(KeyError):
        t["nobody"]
    with pytest.raises(KeyError):
        t[""] = b"x"  # the empty string marks deleted slots
    assert "" not in t and t.get("") is None


def test_overwrites_in_place_when_the_length_stays_and_at_the_end_when_it_changes() -> None:
    t = PackedTable()
    t["a"] = b"12345"
    t["b"] = b"xyz"
    size = t.arena_bytes
    t["a"] = b"54321"  # same length: in place
    assert t.arena_bytes == size and t.garbage == 0 and t["a"] == b"54321"
    t["a"] = b"123456789"  # larger
    assert t["a"] == b"123456789" and t.garbage == 6 and t["b"] == b"xyz"
    t["a"] = b"1"  # smaller
    assert t["a"] == b"1" and t.garbage == 6 + 10
    t.compact()
    assert t.garbage == 0 and t.arena_bytes == 2 + 4 and t == {"a": b"1", "b": b"xyz"}


def test_long_values_have_a_four_byte_length() -> None:
    t = PackedTable()
    long = bytes(range(256)) * 3
    t["x"] = long
    t["y"] = b"\xff" * 254
    t["z"] = b"\xff" * 255
    assert t["x"] == long and t["y"] == b"\xff" * 254 and t["z"] == b"\xff" * 255
    assert t.arena_bytes == (5 + 768) + (1 + 254) + (5 + 255)
    t["x"] = b"short"
    assert t["x"] == b"short" and t.garbage == 5 + 768


def test_deleted_keys_go_and_their_slots_are_reused() -> None:
    t = PackedTable()
    for i in range(5):
        t[f"k{i}"] = b"v%d" % i
    del t["k2"]
    assert "k2" not in t and len(t) == 4 and t.garbage == 3 and sorted(t) == ["k0", "k1", "k3", "k4"]
    with pytest.raises(KeyError):
        del t["k2"]
    t["k2"] = b"back"
    assert t["k2"] == b"back" and len(t) == 5
    t.clear()
    assert len(t) == 0 and t.arena_bytes == 0 and list(t) == []


def test_the_stored_key_object_is_the_first_one_written() -> None:
    t = PackedTable()
    first = "".join(["c-", "42"])
    t[first] = b"a"
    again = "".join(["c-", "42"])
    assert again is not first
    t[again] = b"b"
    assert t.key(again) is first and t.key("c-43") is None


def test_compaction_runs_once_garbage_passes_a_quarter_of_the_arena(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed_table, "COMPACT_MIN", 0)
    t = PackedTable()
    for i in range(100):
        t[f"k{i}"] = b"x" * 10
    assert t.arena_bytes == 1100
    for i in range(20):  # 20 x 11 bytes of garbage: 220 of 1,320, under a quarter
        t[f"k{i}"] = b"y" * 10 + b"!"
    assert t.garbage == 220
    for i in range(20, 40):  # past a quarter: compacted on the way
        t[f"k{i}"] = b"y" * 10 + b"!"
    assert t.garbage < 11 * 20 and t.arena_bytes < 1100 + 40 * 12
    assert t == {f"k{i}": (b"y" * 10 + b"!" if i < 40 else b"x" * 10) for i in range(100)}


def test_random_operations_match_a_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed_table, "COMPACT_MIN", 64)
    rng = random.Random(5)
    t, d = PackedTable(), {}
    for _ in range(20_000):
        key = f"c-{rng.randrange(600)}"
        if rng.random() < 0.1 and key in d:
            del t[key], d[key]
        else:
            value = rng.randbytes(rng.choice([0, 3, 63, 63, 64, 254, 255, 700]))
            t[key] = d[key] = value
        assert len(t) == len(d) and t.value_bytes == sum(map(len, d.values()))
    assert t == d and all(t[k] == v for k, v in d.items())
    assert sorted(t) == sorted(d) and len(t.__getattribute__("_keys")) * 2 > len(d) * 3 // 2
    assert t.garbage * packed_table.COMPACT_SHARE <= t.arena_bytes or t.garbage < 64
