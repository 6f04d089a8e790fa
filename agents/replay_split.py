"""The split pass of a grouped replay (``agents.replay_groups``): every line of the input files to
the temporary file of its customer's group, raw, without parsing it.

A group is ``crc32(customer_id) % groups``. The customer id is read from the raw line when the
line has the plain form that exports and ``churnwatch simulate`` write (``"customer_id"`` once,
then ``:"`` or ``: "``, an id without a backslash); any other line is parsed for it (a line that
cannot be parsed goes to group 0: the group pass reports it with its file and line). Each record
is ``SEQ RAW``: the line's number across the files (:class:`Split` names its file and line) and
the raw line (a file's last line without a newline gets one, and is named apart), so the
group pass parses each line once and reports a bad one where it was.
"""

from __future__ import annotations

import bisect
import resource
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

KEY = b'"customer_id"'
PLAIN = b'"customer_id":"'  # the plain form: the id's first byte follows
FLUSH_LINES = 100  # lines held per group before they are written (groups x this is the split's own memory)


def customer_of(line: bytes) -> bytes | None:
    """The customer id of a line as UTF-8 bytes (None: the line has none, or is not JSON)."""
    at = line.find(KEY)
    if at >= 0 and line.rfind(KEY) == at:
        start = at + 13
        if line.startswith(b':"', start):
            start += 2
        elif line.startswith(b': "', start):
            start += 3
        else:
            return _parsed_customer(line)
        end = line.find(b'"', start)
        if end > start and line.find(b"\\", start, end) < 0:
            return line[start:end]
    return _parsed_customer(line)


def _parsed_customer(line: bytes) -> bytes | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    cid = obj.get("customer_id") if isinstance(obj, dict) else None
    return cid.encode() if isinstance(cid, str) else None


def group_of(customer: bytes, groups: int) -> int:
    """The group of a customer id (its UTF-8 bytes)."""
    return zlib.crc32(customer) % groups


@dataclass(slots=True)
class Split:
    """What the split pass wrote: the group files (by group) and how to name a line of ``paths``. Lines are
    numbered across the files (``seq``, blank lines counted): line ``n`` of file ``i`` is
    ``starts[i] + n - 1``. ``unterminated``: the lines read without a newline (a file's last),
    which their record adds."""

    paths: list[Path]
    files: list[Path]
    starts: list[int] = field(default_factory=list)
    unterminated: set[int] = field(default_factory=set)

    def place(self, seq: int) -> tuple[int, int]:
        """The file index and line number of line ``seq``."""
        index = bisect.bisect_right(self.starts, seq) - 1
        return index, seq - self.starts[index] + 1


def split_lines(paths: Iterable[Path], groups: int, folder: Path) -> Split:
    """Write each non-blank line of the files to its group's file in ``folder`` (in input order
    within a group), as ``SEQ RAW``."""
    paths = list(paths)
    split = Split(paths, [folder / f"group-{g}.lines" for g in range(groups)])
    _allow_open_files(groups + 64)
    files = [name.open("wb") for name in split.files]
    pending: list[list[bytes]] = [[] for _ in files]
    seq = 0
    try:
        for path in paths:
            split.starts.append(seq)
            with path.open("rb") as src:
                seq, last = _split_file(src, seq, groups, pending, files)
            if last is not None:
                split.unterminated.add(seq - 1)
                pending[last].append(b"\n")
        for fh, lines in zip(files, pending, strict=True):
            fh.write(b"".join(lines))
    finally:
        for fh in files:
            fh.close()
    return split


def _allow_open_files(count: int) -> None:
    """Raise the soft limit of open files to ``count`` when it is lower (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        wanted = count if hard == resource.RLIM_INFINITY else min(count, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _split_file(
    src: IO[bytes], seq: int, groups: int, pending: list[list[bytes]], files: Sequence[IO[bytes]]
) -> tuple[int, int | None]:
    """One file's lines to their groups (``pending``, written out by ``FLUSH_LINES``), numbered from
    ``seq``; returns the next number, and the last line's group when it has no newline."""
    crc32 = zlib.crc32
    g, line, first = 0, b"", seq
    for seq, line in enumerate(src, first):
        # the plain form read in place (the commonest line); anything else through customer_of
        at = line.find(PLAIN)
        if at >= 0 and line.rfind(KEY) == at:
            start = at + 15
            end = line.find(b'"', start)
            plain = line[start:end]
            customer = plain if end > start and plain.find(b"\\") < 0 else customer_of(line)
        elif not line.strip():
            continue
        else:
            customer = customer_of(line)
        g = 0 if customer is None else crc32(customer) % groups
        lines = pending[g]
        lines.append(b"%d %b" % (seq, line))
        if len(lines) >= FLUSH_LINES:
            files[g].write(b"".join(lines))
            lines.clear()
    if not line:  # an empty file
        return first, None
    return seq + 1, None if line.endswith(b"\n") or not line.strip() else g
