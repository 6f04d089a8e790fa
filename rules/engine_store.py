"""The engine's customers between events: changed states held decoded until a commit writes them,
and the last ones written kept decoded beside their bytes.

A base of :class:`rules.engine.Engine` (which sets these fields up): every read and write of a
customer's state goes through ``_state_of`` and ``_save``; ``commit`` encodes the changed ones
into the store, then the clock they were changed at (``rules.engine_recovery``).
"""

from __future__ import annotations

from collections import OrderedDict

import orjson

from rules.engine_reads import EngineReads
from rules.engine_recovery import CLOCK_KEY
from rules.state import CustomerState


class EngineStore(EngineReads):
    _cache: OrderedDict[str, tuple[bytes, CustomerState]]  # decoded states of recent writes, oldest first
    _cache_size: int
    _commit_every: int | None
    _max_changed: int
    _since_commit: int
    _committed_clock: float | None

    def _load(self, cid: str, raw: bytes) -> CustomerState:
        """The customer's state; the object kept from the last write when the store still holds those bytes."""
        cached = self._cache.get(cid)
        if cached is not None and (cached[0] is raw or cached[0] == raw):
            return cached[1]
        return CustomerState.decode(raw)

    def _save(self, cid: str, state: CustomerState) -> None:
        self._dirty[cid] = state
        self._since_commit += 1
        every = self._commit_every
        if len(self._dirty) >= self._max_changed or (every is not None and self._since_commit >= every):
            self.commit()

    def _state_of(self, cid: str) -> CustomerState | None:
        """The customer's current state: uncommitted changes first, then the store (through the
        decoded cache); None for a customer never seen."""
        state = self._dirty.get(cid)
        if state is not None:
            return state
        raw = self.store.get(cid)
        return None if raw is None else self._load(cid, raw)

    def commit(self) -> int:
        """Write the changed customers to the store, encoded, then the clock they were changed at
        (a recovered engine resumes at that clock: ticks up to it have run); returns how many."""
        dirty, self._dirty = self._dirty, {}
        self._since_commit = 0
        store, cache = self.store, self._cache
        for cid, state in dirty.items():
            data = state.encode()
            store[cid] = data
            if cache.pop(cid, None) is None and len(cache) >= self._cache_size:
                if not self._cache_size:
                    continue
                cache.popitem(last=False)  # the least recently written
            cache[cid] = (data, state)
        if self.clock is not None and self.clock != self._committed_clock:
            store[CLOCK_KEY] = orjson.dumps(self.clock)
            self._committed_clock = self.clock
        return len(dirty)
