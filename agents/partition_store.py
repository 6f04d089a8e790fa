"""The customer-state table seen one partition at a time.

Each state flush, the engines write their changed customers (``Engine.commit``); the writes land
in the local store at once and reach the changelog in the same flush: a customer changed by fifty
events in a flush interval costs one encoding and one changelog message, not fifty. The worker
acknowledges an event only after the changelog messages of its writes are handed to the producer,
and Faust flushes the producer before it commits offsets, so a crash never commits an offset whose
state change is lost (those events are delivered again; the event-id de-duplication absorbs them).

Faust writes a table key's changelog to the partition of the event being processed. Ticks run
outside any event (wall clock), so each partition's engine writes through a
:class:`PartitionStore` that names its partition itself. ``StateTable`` tells which keys each
partition holds, so the engines can rebuild their due indexes after a recovery. A partition's
store answers for that partition's keys only (the memory store is one dict for all partitions),
and its reserved keys (the engine's clock, the handled offsets of ``agents.progress``) carry the
partition in their name, so partitions never share them.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import faust
import faust.stores.memory
from yarl import URL

from agents.packed_table import PackedTable
from agents.progress import Progress
from rules.engine_reads import RESERVED_PREFIX

PROGRESS_KEY = RESERVED_PREFIX + "progress"
UNUSED_REFS = 4  # see PartitionStore._forget_unused_ids
YIELD_EVERY = 128  # changelog sends between two turns of the event loop


class StateTable(faust.Table):
    """A Faust table of raw bytes that knows which keys belong to which partition.

    Faust's stores know it already: the memory store keeps each key's partition (as the changelog
    is applied, and as :class:`PartitionStore` writes), RocksDB one database per partition. That is
    read, never a copy kept beside it: Faust resumes a kept partition's recovery where it left off,
    so a copy rebuilt from the changelog messages it applies would miss the older keys.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # keys are customer ids, values our own encoding: both go to the changelog as raw bytes
        self.key_serializer = "raw"
        self.value_serializer = "raw"

    def _new_store_by_url(self, url: str | URL) -> Any:
        """The memory store is :class:`PartitionedMemoryStore`; the others Faust's own."""
        if URL(str(url)).scheme != "memory":
            return super()._new_store_by_url(url)
        return PartitionedMemoryStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )

    def _to_value(self, v: Any) -> Any:
        return v.encode() if isinstance(v, str) else v

    def _to_key(self, k: Any) -> Any:
        """Changelog keys arrive as raw bytes; the table's keys are customer ids (str)."""
        return k.decode() if isinstance(k, bytes) else k

    def partition_keys(self, partition: int) -> list[str]:
        """The keys of one partition."""
        data: Any = self.data
        dbs = getattr(data, "_dbs", None)
        if dbs is not None:
            if partition not in dbs:
                return []
            return [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in dbs[partition].keys()]  # noqa: SIM118
        return list(data.parts.get(partition, ()))


class PartitionStore(MutableMapping[str, bytes]):
    """One partition's view of the state table; writes go to that partition's changelog."""

    def __init__(self, table: StateTable, partition: int) -> None:
        self.table = table
        self.partition = partition
        self._rocks = hasattr(table.data, "_db_for_partition")
        self._parts: dict[int, PackedTable] = {} if self._rocks else table.data.parts  # type: ignore[attr-defined]
        self.dirty: dict[str, bytes] = {}  # written locally, changelog not sent yet (see Worker.flush_state)
        self._new_ids: dict[str, str] = {}  # ids of customers not stored yet (see canonical)
        self.progress = Progress.decode(self.get(PROGRESS_KEY))

    def _key(self, key: str) -> str:
        """Reserved keys are per partition: ``\x00clock`` of partition 3 is ``\x00clock@3``."""
        return f"{key}@{self.partition}" if key.startswith(RESERVED_PREFIX) else key

    def __getitem__(self, key: str) -> bytes:
        key = self._key(key)
        data: Any = self.table.data
        if self._rocks:  # this partition's database only
            raw = data._db_for_partition(self.partition).get(data._encode_key(key))
            value = None if raw is None else data._decode_value(raw)
        else:
            part = self._parts.get(self.partition)
            value = None if part is None else part.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: bytes) -> None:
        key = self._key(key)
        data: Any = self.table.data
        if self._rocks:
            encoded = data._encode_key(key)
            data._db_for_partition(self.partition).put(encoded, data._encode_value(value))
            data._key_index[encoded] = self.partition
        else:
            data.put(self.partition, key, value)  # the store drops the partition's dict when the partition goes
            self._new_ids.pop(key, None)  # stored: canonical() finds the store's key from now on
        self.dirty[key] = value

    def canonical(self, cid: str) -> str:
        """The one string this partition keeps for a customer id (memory store): the stored key, else
        the one made for the customer's first event, until the store has it. The parser interns ids
        (``sys.intern``), which would keep a second table slot per customer; with this string in the
        event instead, the interned one dies with its message and leaves the intern table."""
        part = self._parts.get(self.partition)
        if part is not None:
            key = part.key(cid)
            if key is not None:
                return key
        new = self._new_ids.get(cid)
        if new is None:
            new = (cid + " ")[:-1]  # a copy: not the interned string
            self._new_ids[new] = new
        return new

    def checkpoint(self) -> None:
        """Record the handled offsets; called right after the engine's commit, with nothing applied
        in between, so the record covers exactly the customers just written. It is sent after
        them: a crash between the two re-applies some events (their ids are de-duplicated), it
        never skips one."""
        self._forget_unused_ids()
        if self.progress.changed:
            self.progress.changed = False
            self.dirty.pop(self._key(PROGRESS_KEY), None)  # re-inserted: sent after the customers
            self[PROGRESS_KEY] = self.progress.encode()

    def _forget_unused_ids(self) -> None:
        """The new ids that nothing holds any more (their events were late or failed): no event or
        state can be given another string for them, so they go. (Held by nothing else, an id has
        four references here: this dict's key and value, the loop's name, the call's argument.)"""
        new = self._new_ids
        unused = [cid for cid in new if sys.getrefcount(cid) <= UNUSED_REFS]
        for cid in unused:
            del new[cid]

    async def flush(self) -> int:
        """Send the changed keys to the changelog, once each however often they changed.

        Straight to the producer (each ``send`` only appends to its batch), not through Faust's
        ``send_soon`` buffer, which hands messages over one task switch at a time and stalls the
        stream when it holds more than a hundred. Faust's own callback (``_on_changelog_sent``)
        records the offset of each changelog write in the local store once Kafka has it, so a
        RocksDB store knows where to resume.
        """
        dirty, self.dirty = self.dirty, {}
        table = self.table
        producer = table.app.producer
        topic = table.changelog_topic.get_topic_name()
        sent = functools.partial(_sent, table)
        for i, (key, value) in enumerate(dirty.items()):
            fut = await producer.send(topic, key.encode(), value, self.partition, None, None)
            fut.add_done_callback(sent)  # type: ignore[attr-defined]
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let the agent run: a long flush would hold up the events behind it
        return len(dirty)

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("customer state is never deleted by the engine")

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.partition_keys(self.partition))

    def __len__(self) -> int:
        return len(self.table.partition_keys(self.partition))


def _sent(table: StateTable, fut: Any) -> None:
    if not fut.cancelled() and fut.exception() is None:  # Faust calls it only for messages Kafka has
        table._on_changelog_sent(fut)


class PartitionedMemoryStore(faust.stores.memory.Store):
    """Faust's memory store with one table per partition (``parts``, each a
    :class:`~agents.packed_table.PackedTable`: the values packed, no object per state) in place of
    one dict for all keys beside a key-to-partition dict. Same behaviour: the changelog is applied
    as Faust's store applies it (a key written in another partition moves there; a deleted key
    goes unless the batch wrote it again), and when a recovery completes the partitions not
    assigned as active go. ``data`` is a mapping over all partitions, for what Faust reads
    through it."""

    def __post_init__(self) -> None:
        self.parts: dict[int, PackedTable] = {}
        self.data: MutableMapping = _AllPartitions(self.parts)

    def put(self, partition: int, key: str, value: bytes) -> None:
        parts = self.parts
        part = parts.get(partition)
        if part is None:
            part = parts[partition] = PackedTable()
        if key not in part and len(parts) > 1:
            for other in parts.values():  # a key lives in one partition: the one that wrote it last
                if other is not part:
                    other.pop(key, None)
        part[key] = value

    def _clear(self) -> None:
        self.parts.clear()

    def apply_changelog_batch(
        self, batch: Iterable[Any], to_key: Callable[[Any], Any], to_value: Callable[[Any], Any]
    ) -> None:
        deleted: set[Any] = set()
        for event in batch:
            key = to_key(event.key)  # the events' ids are made this string (PartitionStore.canonical)
            if event.message.value is None:
                deleted.add(key)
            value = to_value(event.value)
            self.put(event.message.partition, key, b"" if value is None else value)
        for key in deleted:  # unless the batch wrote it again (Faust's rule: an empty value goes too)
            for part in self.parts.values():
                if part.get(key, b"x") == b"":
                    del part[key]

    async def on_recovery_completed(self, active_tps: set[Any], standby_tps: set[Any]) -> None:
        active = {partition for _, partition in active_tps}
        for partition in [p for p in self.parts if p not in active]:
            del self.parts[partition]


class _AllPartitions(MutableMapping[Any, Any]):
    """The partitions' dicts as one mapping (a key is in one partition). A write of a new key
    goes to the partition of the event being processed, as Faust's table writes its changelog."""

    def __init__(self, parts: dict[int, PackedTable]) -> None:
        self.parts = parts

    def _part_of(self, key: Any) -> PackedTable | None:
        for part in self.parts.values():
            if key in part:
                return part
        return None

    def __getitem__(self, key: Any) -> Any:
        part = self._part_of(key)
        if part is None:
            raise KeyError(key)
        return part[key]

    def __contains__(self, key: object) -> bool:
        return self._part_of(key) is not None

    def __setitem__(self, key: Any, value: Any) -> None:
        part = self._part_of(key)
        if part is None:
            event = faust.current_event()
            if event is None:
                raise RuntimeError(f"no partition for the new key {key!r} outside an event")
            part = self.parts.setdefault(event.message.partition, PackedTable())
        part[key] = value

    def __delitem__(self, key: Any) -> None:
        part = self._part_of(key)
        if part is None:
            raise KeyError(key)
        del part[key]

    def __iter__(self) -> Iterator[Any]:
        for part in list(self.parts.values()):
            yield from part

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts.values())

    def clear(self) -> None:
        self.parts.clear()
