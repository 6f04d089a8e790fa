"""One partition's customer states packed: no Python object per stored value.

A dict of ``str -> bytes`` costs, per customer, the dict's slot and a ``bytes`` object (33 bytes
of header beside the 63 of a typical state, rounded up by the allocator). :class:`PackedTable`
keeps the values one after the other in a single ``bytearray`` (the arena) and finds them through
an open-addressing hash table of two flat arrays: the keys (one pointer each; the key strings are
the ones the engine holds anyway) and the arena offsets (4 bytes each, 8 past 4 GiB). A read
copies the value out as ``bytes``, so the table is a ``MutableMapping[str, bytes]`` like a dict.

A value rewritten at the same length is rewritten in place; at another length it goes to the
end of the arena and its old place becomes garbage, which a compaction (a copy of the live
values into a fresh arena) gives back once it is more than a quarter of the arena.

Records: a length byte then the value; a value of 255 bytes or more has the byte 255 then its
length in 4 bytes (little-endian).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, MutableMapping
from typing import Any

_FREE = None
_GONE = ""  # a deleted slot: never a stored key (the engine's keys are 1..128 characters)
LONG = 255
MIN_SLOTS = 8
# the most slots in use (live or deleted) before the table grows: a dict's is 2/3; at 4/5 a read
# still ends at the first or second probe mostly, and the table costs about 22 bytes a customer
# on average over sizes (12 a slot) against about 26
LOAD = (4, 5)
COMPACT_SHARE = 4  # compact when garbage exceeds 1/COMPACT_SHARE of the arena
COMPACT_MIN = 1 << 16  # bytes of garbage below which a compaction is not worth its copy


def _header(n: int) -> bytes:
    return bytes((n,)) if n < LONG else bytes((LONG,)) + n.to_bytes(4, "little")


def _value_len(record: int) -> int:
    """The length of the value in a record of ``record`` bytes (see :func:`_header`)."""
    return record - 1 if record - 1 < LONG else record - 5


def _offsets(slots: int, arena_bytes: int) -> array[int]:
    return array("I" if arena_bytes < 1 << 32 else "Q", bytes(slots * (4 if arena_bytes < 1 << 32 else 8)))


class PackedTable(MutableMapping[str, bytes]):
    """``str -> bytes`` with the values packed in one arena (see the module's docstring)."""

    __slots__ = ("_arena", "_filled", "_garbage", "_keys", "_len", "_offs", "_value_bytes")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._keys: list[str | None] = [_FREE] * MIN_SLOTS
        self._offs: array[int] = _offsets(MIN_SLOTS, 0)
        self._arena = bytearray()
        self._len = 0  # live keys
        self._filled = 0  # live and deleted slots
        self._garbage = 0  # arena bytes no key points at
        self._value_bytes = 0  # the live values' lengths added up

    # ---------------------------------------------------------------- lookups

    def _slot(self, key: str) -> int:
        """The slot holding ``key``, or ``-1 - s`` where ``s`` is the slot a new ``key`` goes to."""
        keys = self._keys
        mask = len(keys) - 1
        h = hash(key)
        i = h & mask
        perturb = h & 0xFFFFFFFFFFFFFFFF
        first_gone = -1
        while True:
            k = keys[i]
            if k is _FREE:
                return -1 - (i if first_gone < 0 else first_gone)
            if k is _GONE:
                if first_gone < 0:
                    first_gone = i
            elif k is key or k == key:
                return i
            perturb >>= 5
            i = (i * 5 + perturb + 1) & mask

    def _value_at(self, off: int) -> bytes:
        arena = self._arena
        n = arena[off]
        if n < LONG:
            return bytes(arena[off + 1 : off + 1 + n])
        n = int.from_bytes(arena[off + 1 : off + 5], "little")
        return bytes(arena[off + 5 : off + 5 + n])

    def _record_size(self, off: int) -> int:
        arena = self._arena
        n = arena[off]
        return 1 + n if n < LONG else 5 + int.from_bytes(arena[off + 1 : off + 5], "little")

    def __getitem__(self, key: str) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """The hot read: the first probe inlined (most reads end there), the value copied out."""
        keys = self._keys
        i = hash(key) & (len(keys) - 1)
        k = keys[i]
        if k is not key and (k is _FREE or k is _GONE or k != key):
            if k is _FREE:
                return default
            i = self._slot(key)
            if i < 0:
                return default
        arena = self._arena
        off = self._offs[i]
        n = arena[off]
        if n < LONG:
            return bytes(arena[off + 1 : off + 1 + n])
        return self._value_at(off)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key != _GONE and self._slot(key) >= 0

    def key(self, key: str) -> str | None:
        """The stored string equal to ``key`` (so callers can share one object per id), or None."""
        i = self._slot(key)
        return None if i < 0 else self._keys[i]

    def __iter__(self) -> Iterator[str]:
        for k in list(self._keys):
            if k:  # neither free nor deleted
                yield k

    def __len__(self) -> int:
        return self._len

    @property
    def garbage(self) -> int:
        return self._garbage

    @property
    def value_bytes(self) -> int:
        """The live values' lengths added up (``sum(len(v) for v in self.values())``, kept as it goes)."""
        return self._value_bytes

    @property
    def arena_bytes(self) -> int:
        return len(self._arena)

    # ---------------------------------------------------------------- writes

    def __setitem__(self, key: str, value: bytes) -> None:
        if not key:
            raise KeyError("PackedTable keys are non-empty strings")
        i = self._slot(key)
        if i >= 0:
            self._overwrite(i, value)
            return
        i = -1 - i
        if self._keys[i] is _FREE:
            self._filled += 1
        self._keys[i] = key
        self._offs[i] = self._append(value)
        self._len += 1
        self._value_bytes += len(value)
        if self._filled * LOAD[1] >= len(self._keys) * LOAD[0]:
            self._resize()

    def _overwrite(self, i: int, value: bytes) -> None:
        off = self._offs[i]
        old = self._record_size(off)
        n = len(value)
        self._value_bytes += n - _value_len(old)
        if old == n + (1 if n < LONG else 5):  # same length: in place
            head = old - n
            self._arena[off + head : off + old] = value
            return
        self._garbage += old
        self._offs[i] = self._append(value)
        self._maybe_compact()

    def _append(self, value: bytes) -> int:
        arena = self._arena
        off = len(arena)
        if off + len(value) + 5 >= 1 << 32 and self._offs.typecode == "I":
            self._offs = array("Q", self._offs)
        arena += _header(len(value))
        arena += value
        return off

    def __delitem__(self, key: str) -> None:
        i = self._slot(key)
        if i < 0:
            raise KeyError(key)
        size = self._record_size(self._offs[i])
        self._garbage += size
        self._value_bytes -= _value_len(size)
        self._keys[i] = _GONE
        self._len -= 1
        self._maybe_compact()

    def clear(self) -> None:
        self._reset()

    # ---------------------------------------------------------------- upkeep

    def _resize(self) -> None:
        """A table twice the live keys' need: load under half the most :data:`LOAD` after it."""
        slots = MIN_SLOTS
        while slots * LOAD[0] <= self._len * LOAD[1] * 2:
            slots *= 2
        keys, offs = self._keys, self._offs
        self._keys = [_FREE] * slots
        self._offs = _offsets(slots, len(self._arena))
        self._filled = 0
        mask = slots - 1
        new_keys, new_offs = self._keys, self._offs
        for k, off in zip(keys, offs, strict=True):
            if not k:
                continue
            h = hash(k)
            i = h & mask
            perturb = h & 0xFFFFFFFFFFFFFFFF
            while new_keys[i] is not _FREE:
                perturb >>= 5
                i = (i * 5 + perturb + 1) & mask
            new_keys[i] = k
            new_offs[i] = off
            self._filled += 1

    def _maybe_compact(self) -> None:
        if self._garbage >= COMPACT_MIN and self._garbage * COMPACT_SHARE > len(self._arena):
            self.compact()

    def compact(self) -> None:
        """The live values copied into a fresh arena of their exact size, in slot order."""
        keys, offs = self._keys, self._offs
        new = bytearray(len(self._arena) - self._garbage)
        at = 0
        with memoryview(self._arena) as old:
            for i, k in enumerate(keys):
                if not k:
                    continue
                off = offs[i]
                size = self._record_size(off)
                new[at : at + size] = old[off : off + size]
                offs[i] = at
                at += size
        assert at == len(new)
        self._arena = new
        self._garbage = 0
