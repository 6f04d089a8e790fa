"""Where replay keeps its customers' encoded state: in memory (a dict, or packed) or a RocksDB
database on disk.

The same choice the worker has (``CHURNWATCH_STORE``): ``memory://``, or ``rocksdb://PATH`` (a
temporary directory, removed at the end, when PATH is empty), for histories of more customers
than memory holds. The engine sees a mapping of customer id to bytes either way. A store written
once per customer (the grouped replay's) is packed in memory (``agents.packed_table``: no object
per state, about 40 bytes a customer less; a write costs more than a dict's).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from agents.packed_table import PackedTable


class RocksStore(MutableMapping[str, bytes]):
    """A RocksDB database (rocksdict, raw bytes) as a mapping of str to bytes."""

    def __init__(self, path: Path | None = None) -> None:
        from rocksdict import Options, Rdict

        self.temporary = path is None
        self.path = Path(tempfile.mkdtemp(prefix="churnwatch-replay-state-")) if path is None else path
        self.path.mkdir(parents=True, exist_ok=True)
        self.db: Any = Rdict(str(self.path), Options(raw_mode=True))

    def __getitem__(self, key: str) -> bytes:
        value = self.db.get(key.encode())
        if value is None:
            raise KeyError(key)
        return bytes(value)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.db.get(key.encode())
        return default if value is None else bytes(value)

    def __setitem__(self, key: str, value: bytes) -> None:
        self.db[key.encode()] = value

    def __delitem__(self, key: str) -> None:
        del self.db[key.encode()]

    def __iter__(self) -> Iterator[str]:
        for key in self.db.keys():  # noqa: SIM118 (a RocksDB handle, not a dict)
            yield key.decode()

    def __len__(self) -> int:
        return sum(1 for _ in self.db.keys())  # noqa: SIM118

    def close(self) -> None:
        self.db.close()
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)


def open_store(url: str, *, packed: bool = False) -> MutableMapping[str, bytes]:
    """``memory://`` (a dict; ``packed``: a :class:`PackedTable`) or ``rocksdb://[PATH]``; raises
    ValueError for anything else."""
    if url == "memory://":
        return PackedTable() if packed else {}
    if url.startswith("rocksdb://"):
        rest = url[len("rocksdb://") :]
        return RocksStore(Path(rest) if rest else None)
    raise ValueError(f"store must be memory:// or rocksdb://[PATH], not {url!r}")


def encoded_bytes(store: MutableMapping[str, bytes]) -> int:
    """The stored values' lengths added up (a packed store keeps the sum as it goes)."""
    if isinstance(store, PackedTable):
        return store.value_bytes
    return sum(len(value) for value in store.values())


def close_store(store: MutableMapping[str, bytes]) -> None:
    if isinstance(store, RocksStore):
        store.close()
