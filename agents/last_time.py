"""A replay's last event time guessed from the ends of its files, before they are read.

A grouped replay (``agents.replay_groups``) finishes each group with the final tick at the last
event time of the whole input, and would rather finish a group as soon as its events are done
than keep every group's engine until the end. For files in time order (exports, ``churnwatch
simulate``) that time is the latest of the files' last good lines: :func:`guess_last_time` reads
each file's tail backwards to its last good line. It is a guess for any other input; the grouped
replay checks it against every group's latest time before the group runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agents.sorted_events import parse_replay_line
from streams.errors import BadInput
from streams.parse import Limits

TAIL_BYTES = 256 * 1024  # how far back from a file's end a good line is looked for


def guess_last_time(paths: Iterable[Path], limits: Limits) -> float | None:
    """The latest time of the files' last good lines (None: no good line near any file's end)."""
    times = [t for t in (_last_good_time(p, limits) for p in paths) if t is not None]
    return max(times, default=None)


def _last_good_time(path: Path, limits: Limits) -> float | None:
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read()
    lines = [line + b"\n" for line in tail.split(b"\n")]  # as a file is read: each with its newline
    lines[-1] = lines[-1][:-1]  # but the last (empty when the file ends with one)
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first may be the end of a longer line
    for line in reversed(lines):
        if not line.strip():
            continue
        try:
            return parse_replay_line(line, limits).ts
        except BadInput:
            continue
    return None
