"""Where replay keeps its customers' encoded state: a dict (memory) or a RocksDB database on disk.

The same choice the worker has (``CHURNWATCH_STORE``): ``memory://``, or ``rocksdb://PATH`` (a
temporary directory, removed at the end, when PATH is empty), for histories of more customers
than memory holds. The engine sees a mapping of customer id to bytes either way.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any


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


def open_store(url: str) -> MutableMapping[str, bytes]:
    """``memory://`` or ``rocksdb://[PATH]``; raises ValueError for anything else."""
    if url == "memory://":
        return {}
    if url.startswith("rocksdb://"):
        rest = url[len("rocksdb://") :]
        return RocksStore(Path(rest) if rest else None)
    raise ValueError(f"store must be memory:// or rocksdb://[PATH], not {url!r}")


def close_store(store: MutableMapping[str, bytes]) -> None:
    if isinstance(store, RocksStore):
        store.close()
