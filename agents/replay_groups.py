"""Replay grouped by customer: a history of more customers than the engine holds decoded, at the
cost per event of one that fits (issue 13; Flink's batch mode does the same: sort by key, then
process).

One engine over all customers in time order finds nearly every event's customer cold once they
outnumber the customers it holds decoded between commits (``agents.engine_setup``): a decode, an
encode and a few cache misses per event. Grouped:

1. **split** (``agents.replay_split``): every raw line to the file of its customer's group
   (``crc32(customer_id) % groups``), unparsed;
2. **groups**, one after another: a group's lines are parsed once, sorted by time (stable:
   input order; ``agents.sorted_events.sort_in_chunks``: in memory, spilled beyond
   ``--max-memory``), and run through a fresh engine of the group's customers only (few enough
   to stay decoded), with the event clock; its alerts go to a sorted run (``agents.alert_runs``)
   keyed by the place one engine would have given them;
3. **end** of a group: its engine runs the ticks up to the input's last event time and the final
   tick (``Engine.finish``), as one engine does, and goes: one engine is alive at a time. That
   time is read from the files' ends first (``agents.last_time``: exact for files in time order)
   and checked against each group's latest time before the group runs; when the first group is
   past it, every engine is kept (committed) and finished at the true last time at the end; when
   a later one is, the input is replayed ungrouped;
4. **merge**: the runs in key order to the output.

Why the output is the same as one engine's, byte for byte (``emitted_at`` aside): a customer's
evaluations depend on its own state and the times it is evaluated at; with time-ordered input the
clock at each of its events is that event's time in any subset of customers (lateness and the
state's trimming read it), and a tick at a multiple M of the interval runs before the first event
at or after M and evaluates the customers due by M in id order, whoever else is in the engine.
The aggregates of the groups add up (``rules.aggregates.Totals``). The store is one mapping for
all groups (the customers are disjoint), so it ends as one engine's does.

Used for one partition (``replay(partitions=1)``) with a whole number of seconds between ticks;
``group_count`` keeps small inputs (customers that fit) on the ungrouped path.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from agents.alert_runs import EVENT, FINAL, FINAL_TIME, TICK, RunWriter, merge_runs
from agents.engine_setup import OFFLINE_CHANGED, offline_engine
from agents.gc_tuning import quiet_gc_during
from agents.last_time import guess_last_time
from agents.packed_table import PackedTable
from agents.replay_result import ReplayResult, unknown_customer
from agents.replay_split import Split, split_lines
from agents.replay_store import close_store, encoded_bytes, open_store
from agents.sorted_events import LINE_BYTES, BadLine, chunk_events, parse_replay_line, sort_in_chunks
from rules.acknowledgement import Acknowledgement
from rules.aggregates import Totals
from rules.engine import Engine, EngineConfig, Outcome
from rules.engine_reads import RESERVED_PREFIX
from rules.pack import RulePack
from streams.errors import BadInput
from streams.events import Event
from streams.parse import Limits, parse_line, parse_ts

EVENTS_PER_CUSTOMER = 5  # assumed, to size the groups from the input's bytes (churnwatch simulate: ~5.3)
# customers per group aimed at: far fewer than an engine holds decoded, so that a group's decoded
# states stay in the processor's caches (at 300k customers, 4,400 a group: 62-67k events per CPU-second;
# 2,200: 71-72k; 1,100: 74-77k)
GROUP_CUSTOMERS = 1250
# up to here (estimated) one engine holds nearly all customers decoded between its commits: ungrouped
# measured faster at 10k customers (10,560 estimated) than in 2 or 3 groups
UNGROUPED_CUSTOMERS = OFFLINE_CHANGED * 3 // 2
MAX_GROUPS = 1000  # group files open at once while splitting (and runs while merging)
Item = Event | Acknowledgement
Row = tuple[float, int, Item]  # an item with its time and its line's number across the files (agents.replay_split)
DUPLICATE = Outcome.DUPLICATE
ACK = b'"acknowledgement"'  # what an acknowledgement line holds (agents.sorted_events.parse_replay_line)
Found = list[tuple[tuple[int, float, int], BadLine]]  # bad lines with their place in the report


def group_count(paths: list[Path], config: EngineConfig, partitions: int) -> int:
    """How many groups: 1 (the ungrouped path) when the input's customers (estimated from its
    bytes: ``LINE_BYTES`` a line, ``EVENTS_PER_CUSTOMER`` lines a customer) about fit in one
    engine's decoded customers, or when grouping does not apply (several partitions, a tick
    interval that is not a whole number of seconds: a tick's time is read back from its alerts'
    ``event_time``, an engine that scans every customer at each tick)."""
    if partitions != 1 or config.scan_all or not float(config.tick_seconds).is_integer():
        return 1
    customers = sum(p.stat().st_size for p in paths) / LINE_BYTES / EVENTS_PER_CUSTOMER
    if customers <= UNGROUPED_CUSTOMERS:
        return 1
    return min(MAX_GROUPS, math.ceil(customers / GROUP_CUSTOMERS))


def replay_grouped(
    paths: list[Path],
    pack: RulePack,
    out: IO[bytes],
    result: ReplayResult,
    *,
    config: EngineConfig,
    limits: Limits,
    groups: int,
    final_tick: bool,
    max_memory_mb: float,
    store: str,
    progress: IO[str] | None = None,
) -> bool:
    """Replay ``paths`` in ``groups`` groups of customers into ``out``, filling ``result``; False
    (nothing written, the store left empty) when the input must be replayed ungrouped instead.
    ``progress``: a terminal to show a progress bar on (the groups' bytes done)."""
    found: Found = []
    kept = open_store(store, packed=True)  # (one write and one read per customer here)
    try:
        with tempfile.TemporaryDirectory(prefix="churnwatch-groups-") as tmp, quiet_gc_during():
            plan = Plan(pack, config, limits, final_tick, chunk_events(max_memory_mb), tmp, kept, found, progress)
            runs = _run_groups(plan, split_lines(paths, groups, Path(tmp)), guess_last_time(paths, limits), result)
            if runs is None:
                kept.clear()
                return False
            result.customers = sum(1 for cid in kept if not cid.startswith(RESERVED_PREFIX))
            result.state_bytes = encoded_bytes(kept)
            if isinstance(kept, PackedTable):
                kept.clear()  # a memory store goes at the end anyway: before the merge holds its batches
            write = out.write
            for line in merge_runs(runs):
                write(line)
    finally:
        close_store(kept)
    result.bad_lines.extend(bad for _, bad in sorted(found, key=itemgetter(0)))
    return True


@dataclass(slots=True)
class Plan:
    """What every group is run with."""

    pack: RulePack
    config: EngineConfig
    limits: Limits
    final_tick: bool
    size: int  # items a group sorts in memory (beyond: in spilled chunks)
    tmp: str
    store: MutableMapping[str, bytes]
    found: Found
    progress: IO[str] | None  # a terminal for the progress bar (None: no bar)


def _run_groups(plan: Plan, split: Split, guess: float | None, result: ReplayResult) -> list[Path] | None:
    """Each group through its engine. While every group's latest time is at most ``guess`` (the
    input's last time, read from the files' ends), a group is finished at it when its events are
    done; else (from the first group on) engines are kept and finished at the true last time. A
    guess found wrong after a group was finished at it: None (the input is replayed ungrouped)."""
    paused: list[tuple[Engine, RunWriter]] = []
    runs: list[Path] = []
    totals, latest = Totals(), None
    done = _progress_bar(split.files, plan.progress)
    for g, group_file in enumerate(split.files):
        size = group_file.stat().st_size
        items, newest = _group_items(group_file, split, plan)
        group_file.unlink()
        latest = newest if latest is None or (newest is not None and newest > latest) else latest
        early = guess is not None and not paused and (newest is None or newest <= guess)
        if not early and g > 0 and not paused:
            done(0)
            return None  # the groups before were finished at a time that is not the last
        engine = offline_engine(plan.pack, plan.config, plan.store)
        run = RunWriter(Path(plan.tmp) / f"group-{g}.run")
        runs.append(run.path)
        _run_events(engine, items, run, result, plan.found)
        if early:
            assert guess is not None
            totals += _finish(engine, run, guess, plan.final_tick, result)
        else:
            engine.commit()  # the group's decoded customers go; its due index and aggregates stay
            run.flush()
            paused.append((engine, run))
        done(size)
    done(0)
    if paused and latest is not None:
        for engine, run in paused:
            totals += _finish(engine, run, latest, plan.final_tick, result)
    elif latest != guess:  # the guessed line was good when guessed, bad when read again
        return None
    result.totals = totals
    return runs


def _progress_bar(files: list[Path], stream: IO[str] | None) -> Callable[[int], object]:
    """What to call with the bytes of each group done (0: all done) to move a progress bar on
    ``stream`` (None: no bar; a call does nothing)."""
    if stream is None:
        return lambda size: None
    from tqdm import tqdm

    total = sum(f.stat().st_size for f in files)
    bar = tqdm(total=total, file=stream, unit="B", unit_scale=True, mininterval=0.5, desc="replay (grouped)")

    def done(size: int) -> object:
        return bar.update(size) if size else bar.close()

    return done


def _group_items(group_file: Path, split: Split, plan: Plan) -> tuple[Iterator[Row], float | None]:
    """The group's items by time (stable: in input order for equal times), as (time, seq, item):
    in memory up to ``plan.size`` items, else sorted in chunks spilled to ``plan.tmp`` and
    merged; and the group's latest time (None: no items)."""
    newest: list[float] = []
    chunks = _records(group_file, split, plan.limits, plan.found, plan.size, newest)
    first = next(chunks, [])
    following = next(chunks, None)
    if following is None:
        first.sort(key=itemgetter(0))
        return iter(first), max(newest, default=None)
    rows = sort_in_chunks(itertools.chain(first, following, itertools.chain.from_iterable(chunks)), plan.size, plan.tmp)
    head = next(rows)  # (all the input read and spilled: its latest time known)
    return itertools.chain((head,), rows), max(newest, default=None)


def _records(
    group_file: Path, split: Split, limits: Limits, found: Found, size: int, newest: list[float]
) -> Iterator[list[Row]]:
    """The group's lines parsed, as (time, seq, item) in input order, in lists of at most ``size``;
    bad lines to ``found``, each list's latest time to ``newest``."""
    chunk: list[Row] = []
    append = chunk.append
    unterminated = split.unterminated
    with group_file.open("rb") as fh:
        for record in fh:
            head, _, line = record.partition(b" ")
            seq = int(head)
            if unterminated and seq in unterminated:
                line = line[:-1]  # as it was read: without the newline the record added
            try:
                item = parse_line(line, limits=limits) if ACK not in line else parse_replay_line(line, limits)
            except BadInput as exc:
                index, n = split.place(seq)
                found.append(((0, 0.0, seq), BadLine(str(split.paths[index]), n, exc.reason.value, exc.detail)))
                continue
            append((item.ts, seq, item))
            if len(chunk) >= size:
                newest.append(max(chunk, key=itemgetter(0))[0])
                yield chunk
                chunk = []
                append = chunk.append
    if chunk:
        newest.append(max(chunk, key=itemgetter(0))[0])
    yield chunk


def _run_events(engine: Engine, items: Iterator[Row], run: RunWriter, result: ReplayResult, found: Found) -> None:
    """A group's items in order through its engine (event clock); the alerts to its run."""
    events = duplicates = 0
    advance, apply = engine.advance, engine.apply
    for ts, seq, item in items:
        ticked = advance(ts)
        if ticked:
            _write_ticks(ticked, run, result)
        if isinstance(item, Acknowledgement):
            _acknowledge(engine, item, seq, result, found)
            continue
        try:
            alerts = apply(item)
        except BadInput as exc:  # cannot happen for sorted input; kept for safety (as replay's)
            result.late += 1
            found.append(((2, ts, seq), BadLine("<sorted input>", 0, exc.reason.value, exc.detail)))
            continue
        events += 1
        if alerts:
            for alert in alerts:
                run.add((ts, EVENT, seq, ""), result.line(alert))
        elif alerts.outcome is DUPLICATE:
            duplicates += 1
    result.events += events
    result.duplicates += duplicates


def _acknowledge(engine: Engine, ack: Acknowledgement, seq: int, result: ReplayResult, found: Found) -> None:
    if engine.acknowledge(ack):
        result.acknowledgements += 1
    else:
        found.append(((1, ack.ts, seq), unknown_customer(ack)))


def _finish(engine: Engine, run: RunWriter, last: float, final_tick: bool, result: ReplayResult) -> Totals:
    """A group's engine to the input's last time: the ticks its clock has not crossed yet, then
    the final tick (or a commit without it); its run closed; its aggregates at that time."""
    _write_ticks(engine.advance(last), run, result)
    if final_tick:
        for alert in engine.finish(last):
            run.add((FINAL_TIME, FINAL, 0, alert["customer_id"]), result.line(alert))
    else:
        engine.commit()
    run.close()
    return engine.totals(last)


def _write_ticks(alerts: list[dict[str, Any]], run: RunWriter, result: ReplayResult) -> None:
    """A tick's alerts, keyed by the tick's time (the alerts' ``event_time``) and customer."""
    for alert in alerts:
        run.add((parse_ts(alert["event_time"]), TICK, 0, alert["customer_id"]), result.line(alert))
