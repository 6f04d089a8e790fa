"""The state's packed lists: time lists and id hashes as arrays of machine integers.

Each time is int64 epoch seconds (8 bytes, not ~40 as a Python int in a list); each id hash 4
bytes: of an event id (de-duplication), the low 32 bits of its xxh3_64 hash (:func:`event_key`,
state version 6 on; BLAKE2b before, still matched in a state decoded from an older version), held
as 4 latin-1 characters of a text (:func:`holds`); of an order or ticket id, its 4-byte BLAKE2b
digest (:func:`id_hash`). Kept sorted by time; trimmed to a
history's horizon and cap (``rules.windows``) by :func:`trim_times`. Compiled with the core (``agents.core.COMPILED``).
"""

from __future__ import annotations

import bisect
import hashlib
import sys
from array import array
from collections.abc import Callable, Iterable
from typing import Final

import xxhash

__all__ = [
    "HASH_SIZE",
    "append_time",
    "digest",
    "event_key",
    "holds",
    "id_hash",
    "insort",
    "legacy_key",
    "pack_words",
    "times_list",
    "trim_times",
    "unpack_words",
]


_BLAKE2B_4: Final = hashlib.blake2b(digest_size=4)  # copied per id: no keyword arguments per call
_COPY: Final = type(_BLAKE2B_4).copy  # its methods as functions (compiled: no lookup by name per call)
_UPDATE: Final = type(_BLAKE2B_4).update
_DIGEST: Final = type(_BLAKE2B_4).digest


def id_hash(text: str) -> int:
    """A stable 32-bit hash of an id (Python's ``hash`` differs between processes): its 4-byte
    BLAKE2b digest (``digest_size=4``), little-endian."""
    return _from_bytes(digest(text), "little")


_from_bytes: Final = int.from_bytes  # (compiled: a call, not a lookup of the method by name)


def digest(text: str) -> bytes:
    """The 4-byte BLAKE2b digest of an id (:func:`id_hash` reads it as a little-endian number)."""
    h = _COPY(_BLAKE2B_4)
    _UPDATE(h, text.encode())
    digest: bytes = _DIGEST(h)
    return digest


_XXH3_64: Final = xxhash.xxh3_64_digest


def event_key(text: str) -> str:
    """The 4 stored bytes of an event id's hash (state version 6 on), as latin-1 text (one character
    a byte; :func:`holds`): the low 32 bits of its xxh3_64 hash, big-endian (the last 4 bytes of
    its canonical digest). A tenth of BLAKE2b's cost."""
    return _XXH3_64(text.encode())[4:].decode("latin-1")


def legacy_key(text: str) -> str:
    """An event id's hash as a state of version 5 or older stored it (its BLAKE2b :func:`digest`),
    as latin-1 text."""
    return digest(text).decode("latin-1")


# the array methods as statics: a call without looking the method up by name (compiled)
_fromlist: Final[Callable[[array[int], list[int]], None]] = array.fromlist


BIG_ENDIAN: Final = sys.byteorder == "big"
assert array("I").itemsize == 4
_new_words: Final[Callable[[], array[int]]] = array("I").__copy__  # twice as fast as array("I")
_tobytes: Final[Callable[[array[int]], bytes]] = array.tobytes
_frombytes: Final[Callable[[array[int], bytes | bytearray], None]] = array.frombytes


def pack_words(values: list[int]) -> bytes:
    """Unsigned 32-bit little-endian words, by an array's fromlist: OverflowError for a value
    outside 0 .. 2^32 - 1 (struct's "I" too), but no tuple of the list and a cheaper conversion a
    word. The one word packer of the state's encodings (``rules.codec``, ``rules.codec_json``)."""
    words = _new_words()
    _fromlist(words, values)
    if BIG_ENDIAN:
        words.byteswap()
    return _tobytes(words)


def unpack_words(raw: bytes | bytearray) -> array[int]:
    """The words :func:`pack_words` wrote."""
    words = _new_words()
    _frombytes(words, raw)
    if BIG_ENDIAN:
        words.byteswap()
    return words


def append_time(times: array[int], ts: int) -> None:
    """``times.append(ts)``: ``append`` converts its item twice (it checks it first, through
    ``PyArg_Parse``), ``fromlist`` once (callgrind: 165 instructions less an append)."""
    _fromlist(times, [ts])


def holds(keys: str, key: str, first: int = 0, end: int = -1) -> bool:
    """Whether the hashes ``first`` to ``end`` (-1: to the last) of ``keys`` (4 latin-1 characters a
    hash, as :func:`event_key` gives one) include ``key``. Text, not an array: compiled, ``str.find``
    is native, where an array's bytes would be copied twice per search (``bytes.find`` parses a
    tuple, and ``in`` on an array boxes every item)."""
    size = HASH_SIZE
    stop = len(keys) if end < 0 else end * size
    i = keys.find(key, first * size, stop)
    while i >= 0:
        if i % size == 0:  # a match across two hashes is not one
            return True
        i = keys.find(key, i + 1, stop)
    return False


def times_list(values: Iterable[int] | None = None) -> array[int]:
    """A time list of the state: int64 epoch seconds in an array (8 bytes a time, not ~40 as a list of ints);
    an empty one (no values) is a copy of one made once (a quarter of array()'s cost, compiled)."""
    return _new_times() if values is None else array("q", values)


_new_times: Final[Callable[[], array[int]]] = array("q").__copy__


HASH_SIZE: Final = 4  # the bytes of an id hash (the characters of one in the text holds searches)


def trim_times(times: array[int], kept: tuple[int, int], clock: int) -> int:
    """Drop the times at or before ``clock`` − the history's horizon, and the oldest beyond its
    cap (``kept``: the history's horizon and cap); how many were dropped."""
    horizon, cap = kept
    floor = clock - horizon
    n = len(times)
    if times[0] > floor:
        if n <= cap:
            return 0  # nothing to drop (most events)
        cut = 0
    else:  # the few oldest are read one by one (each array read boxes an int), then a bisection
        cut = 1
        while cut < n and cut < 4 and times[cut] <= floor:
            cut += 1
        if cut == 4 and cut < n:
            cut = _bisect_right(times, floor, 4)
    if n - cap > cut:
        cut = n - cap
    if cut > 0:
        del times[:cut]
    return cut


_bisect_right: Final = bisect.bisect_right  # (a static: no lookup of the module's attribute per call)


def insort(times: array[int], ts: int) -> None:
    """``bisect.insort(times, ts)``: an append for a time at or after the last (most events)."""
    if not times or times[-1] <= ts:
        append_time(times, ts)
    else:
        bisect.insort(times, ts)
