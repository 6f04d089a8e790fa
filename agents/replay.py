"""``churnwatch replay``: the offline door over the same engine as the worker.

Reads JSON Lines files (one event a line, with ``"type"``), reports each bad line with file,
line number and reason and skips it, sorts the events by event time (stable: equal times keep
file order) in bounded memory (``agents.sorted_events``), runs them through
:class:`rules.engine.Engine` with the event clock (a tick at each multiple of ``tick_seconds``
crossed, and a final tick at the last event's time) and writes the alerts as JSON Lines. An input
of more customers than one engine holds decoded is replayed grouped by customer, with the same
output (``agents.replay_groups``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import IO, Any

from agents.engine_setup import offline_engine
from agents.gc_tuning import quiet_gc_during
from agents.replay_groups import group_count, replay_grouped
from agents.replay_result import ReplayResult as ReplayResult
from agents.replay_result import unknown_customer
from agents.replay_store import close_store, encoded_bytes, open_store
from agents.sorted_events import DEFAULT_MAX_MEMORY_MB, BadLine, sorted_events, sorted_replay_items
from agents.topics import partition_of
from rules.acknowledgement import Acknowledgement
from rules.aggregates import Totals
from rules.engine import Engine, EngineConfig
from rules.pack import RulePack
from streams.errors import BadInput
from streams.events import Event
from streams.parse import Limits

PROGRESS_MIN_EVENTS = 200_000  # (kept for callers that count events)
PROGRESS_MIN_BYTES = 50_000_000  # about 200,000 events: a progress bar on a terminal from there


def read_events(paths: Iterable[Path], limits: Limits, bad: list[BadLine]) -> list[Event]:
    """Every good event of the files, sorted by event time (stable), as a list (held in memory)."""
    return list(sorted_events(paths, limits, bad))


def _shows_progress(paths: list[Path], stream: IO[str]) -> bool:
    """A progress bar on a terminal, for inputs long enough to wait for."""
    return stream.isatty() and sum(p.stat().st_size for p in paths) >= PROGRESS_MIN_BYTES


def _progress(
    events: Iterator[Event | Acknowledgement], paths: list[Path], stream: IO[str]
) -> Iterator[Event | Acknowledgement]:
    if not _shows_progress(paths, stream):
        yield from events
        return
    from tqdm import tqdm

    yield from tqdm(events, file=stream, unit="ev", unit_scale=True, mininterval=0.5, desc="replay")


def _partition_store(url: str, partition: int) -> str:
    """Each partition's engine has its own database under a RocksDB path."""
    if url.startswith("rocksdb://") and len(url) > len("rocksdb://"):
        return f"{url.rstrip('/')}/partition-{partition}"
    return url


def replay(
    paths: Iterable[Path],
    pack: RulePack,
    out: IO[bytes],
    *,
    config: EngineConfig | None = None,
    limits: Limits | None = None,
    progress: IO[str] | None = None,
    partitions: int = 1,
    final_tick: bool = True,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
    store: str = "memory://",
    groups: int | None = None,
) -> ReplayResult:
    """Replay the files through one engine, or through one engine per partition as a worker with
    the event clock runs them (``partitions``: the input topics' count; customers placed by
    Kafka's default partitioner), with or without the final tick at the last event's time. The
    input is streamed in event-time order (``agents.sorted_events``): sorting holds at most
    ``max_memory_mb`` of events, whatever the input's size. The customers' state is kept in
    ``store`` (``memory://`` or ``rocksdb://[PATH]``, as the worker's). An input of more customers
    than an engine holds decoded is replayed grouped by customer (``agents.replay_groups``: the
    same output); ``groups`` sets the number of groups (default: from the input's size; 1: never
    grouped; several partitions are never grouped)."""
    started = time.perf_counter()
    result = ReplayResult()
    paths = list(paths)
    cfg = config or EngineConfig()
    stream = progress or sys.stderr
    count = group_count(paths, cfg, partitions) if groups is None else groups
    if (
        count > 1
        and partitions == 1
        and replay_grouped(
            paths,
            pack,
            out,
            result,
            config=cfg,
            limits=limits or Limits(),
            groups=count,
            final_tick=final_tick,
            max_memory_mb=max_memory_mb,
            store=_partition_store(store, 0),
            progress=stream if _shows_progress(paths, stream) else None,
        )
    ):
        result.seconds = time.perf_counter() - started
        return result
    result = ReplayResult()
    events = sorted_replay_items(paths, limits or Limits(), result.bad_lines, max_memory_mb=max_memory_mb)
    engines: dict[int, Engine] = {}
    stores: dict[int, MutableMapping[str, bytes]] = {}
    write = out.write

    def emit(alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            write(result.line(alert))

    with quiet_gc_during():
        try:
            for event in _progress(events, paths, stream):
                p = partition_of(event.customer_id, partitions) if partitions > 1 else 0
                engine = engines.get(p)
                if engine is None:
                    stores[p] = open_store(_partition_store(store, p))
                    engine = engines[p] = offline_engine(pack, config or EngineConfig(), stores[p], share=partitions)
                if isinstance(event, Acknowledgement):
                    emit(_acknowledge(engine, event, result))
                    continue
                try:
                    alerts = engine.process(event)
                except BadInput as exc:  # cannot happen for sorted input; kept for safety
                    result.late += 1
                    result.bad_lines.append(BadLine("<sorted input>", 0, exc.reason.value, exc.detail))
                    continue
                result.events += 1
                if alerts.duplicate:
                    result.duplicates += 1
                if alerts:
                    emit(alerts)
            last = max((e.clock or 0.0 for e in engines.values()), default=0.0)
            for p in sorted(engines):  # the final tick at the last event's time, in every partition
                if final_tick:
                    emit(engines[p].finish(last))
                else:
                    engines[p].commit()
            result.customers = sum(len(e.customers()) for e in engines.values())
            result.totals = sum((e.totals(last) for e in engines.values()), Totals())
            result.state_bytes = sum(encoded_bytes(kept) for kept in stores.values())
        finally:
            for kept in stores.values():
                close_store(kept)
    result.seconds = time.perf_counter() - started
    return result


def _acknowledge(engine: Engine, ack: Acknowledgement, result: ReplayResult) -> list[dict[str, Any]]:
    """An acknowledgement line: the ticks up to its time, then ``Engine.acknowledge`` (as the
    worker's ``POST /customers/{id}/acknowledge``); one for a customer not seen yet is reported."""
    alerts = engine.advance(ack.ts)
    if engine.acknowledge(ack):
        result.acknowledgements += 1
    else:
        result.bad_lines.append(unknown_customer(ack))
    return alerts
