"""agents.partition_store's memory store: one packed table per partition, restored from the changelog
as Faust's memory store restores it, the partitions not assigned dropped after a recovery, and
each partition's view reading and writing its own keys only."""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace
from typing import Any

import orjson
from faust.types import TP

from agents.app import App
from agents.partition_store import PartitionedMemoryStore, PartitionStore, StateTable


def _table(store: str = "memory://") -> StateTable:
    app = App("cw-unit-store", broker="kafka://127.0.0.1:1", store=store, autodiscover=False)
    return app.tables.add(StateTable(app, name="customer_state", default=None, partitions=4))  # type: ignore[return-value]


def _changelog(key: bytes, value: bytes | None, partition: int) -> Any:
    return SimpleNamespace(key=key, value=value, message=SimpleNamespace(partition=partition, value=value))


def test_the_memory_store_is_one_dict_per_partition_restored_from_the_changelog() -> None:
    table = _table()
    store = table.data
    assert isinstance(store, PartitionedMemoryStore)
    table.apply_changelog_batch(
        [
            _changelog(b"c-1", b"a", 0),
            _changelog(b"c-2", b"b", 1),
            _changelog(b"c-3", b"c", 1),
            _changelog(b"c-1", b"a2", 0),
            _changelog(b"c-3", None, 1),  # deleted
            _changelog(b"c-2", None, 1),
            _changelog(b"c-2", b"b2", 1),  # written again after its deletion in the same batch: kept
        ]
    )
    assert table.partition_keys(0) == ["c-1"]
    assert table.partition_keys(1) == ["c-2"]
    assert table.partition_keys(2) == []
    assert store.parts == {0: {"c-1": b"a2"}, 1: {"c-2": b"b2"}}
    assert dict(store.items()) == {"c-1": b"a2", "c-2": b"b2"} and len(store) == 2 and "c-2" in store
    table.apply_changelog_batch([_changelog(b"c-1", b"moved", 1)])  # a key lives where it was written last
    assert store.parts == {0: {}, 1: {"c-2": b"b2", "c-1": b"moved"}}
    asyncio.run(store.on_recovery_completed({TP("x", 1)}, set()))
    assert store.parts == {1: {"c-2": b"b2", "c-1": b"moved"}}


def test_a_partition_store_reads_and_writes_its_partition_only() -> None:
    table = _table()
    p0, p1 = PartitionStore(table, 0), PartitionStore(table, 1)
    p0["c-1"] = b"one"
    p1["c-2"] = b"two"
    p0["\x00clock"] = b"5"
    assert p0.get("c-1") == b"one" and p0.get("c-2") is None and p1.get("c-1") is None
    assert p0.get("\x00clock") == b"5" and p1.get("\x00clock") is None
    assert sorted(p0) == ["\x00clock@0", "c-1"] and len(p1) == 1
    assert p0.dirty == {"c-1": b"one", "\x00clock@0": b"5"}
    assert table.data.parts == {0: {"c-1": b"one", "\x00clock@0": b"5"}, 1: {"c-2": b"two"}}  # type: ignore[attr-defined]
    asyncio.run(table.data.on_recovery_completed({TP("x", 1)}, set()))
    assert p0.get("c-1") is None and list(p0) == []
    p0["c-1"] = b"again"  # the partition comes back
    assert p0["c-1"] == b"again"


def test_a_customer_id_is_one_string_the_stored_key_not_the_interned_one() -> None:
    from agents.metrics import Metrics
    from agents.pack_file import load_pack
    from agents.pipeline import Pipeline
    from agents.settings import Settings

    table = _table()
    stores: dict[int, PartitionStore] = {}

    def store_for(p: int) -> PartitionStore:
        return stores.setdefault(p, PartitionStore(table, p))

    pipeline = Pipeline(
        Settings(clock="wall"),  # type: ignore[call-arg]
        load_pack(),
        Metrics(),
        store_for,
        progress_for=lambda p: store_for(p).progress,
        canonical_id=lambda p, cid: store_for(p).canonical(cid),
    )
    topic = pipeline.settings.input_topics["login"]
    now = 1_800_000_000.0

    def login(offset: int, cid: str) -> None:
        body = {"event_id": f"e{offset}", "customer_id": cid, "ts": now - 60 + offset}
        out = pipeline.handle(topic, 0, offset, cid.encode(), orjson.dumps(body), now)
        assert out.dead_letter is None

    login(0, "c-77")
    first = stores[0].canonical("c-77")
    assert first is not sys.intern("c-77")  # a copy of the parsed id, not the interned string
    login(1, "c-77")
    assert stores[0].canonical("c-77") is first  # the same string before the commit
    engine = pipeline.engines[0]
    engine.commit()
    stores[0].checkpoint()
    assert next(k for k in stores[0] if k == "c-77") is first  # the store's key is that string
    assert stores[0].canonical("c-77") is first and "c-77" not in stores[0]._new_ids
    login(2, "c-77")
    engine.commit()
    assert [k for k in table.data.parts[0] if k == "c-77"] == ["c-77"]  # type: ignore[attr-defined]
    assert next(k for k in stores[0] if k == "c-77") is first


def test_recovered_ids_are_the_events_strings() -> None:
    table = _table()
    table.apply_changelog_batch([_changelog(b"c-9", b"state", 2)])
    store = PartitionStore(table, 2)
    key = store.canonical("".join(["c-", "9"]))
    assert key == "c-9" and key is table.partition_keys(2)[0]


def test_a_new_id_nothing_holds_is_forgotten_at_the_checkpoint() -> None:
    store = PartitionStore(_table(), 0)
    held = store.canonical("".join(["c-", "1"]))
    store.canonical("".join(["c-", "2"]))  # its event was dropped: nothing holds the string
    store.checkpoint()
    assert list(store._new_ids) == ["c-1"] and store.canonical("c-1") is held
    store[held] = b"state"
    assert store._new_ids == {} and store.canonical("c-1") is held
