"""The split pass of a grouped replay (``agents.replay_groups``): every line of the input files to
the temporary file of its customer's group, raw, without parsing it.

A group is ``crc32(customer_id) % groups``. The customer id is read from the raw line when the
line has the plain form that exports and ``churnwatch simulate`` write (``"customer_id"`` once,
then ``:"`` or ``: "``, an id without a backslash); any other line is parsed for it (a line that
cannot be parsed goes to group 0: the group pass reports it with its file and line). Each record
is ``FILE LINE RAW``: the file's index among the inputs, the line number, the raw line (a
file's last line without a newline gets one, and is named apart), so the
group pass parses each line once and reports a bad one where it was.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

import orjson

KEY = b'"customer_id"'
PLAIN = b'"customer_id":"'  # the plain form: the id's first byte follows
WRITE_BUFFER = 32 * 1024  # bytes buffered per group file (groups x this is the split's own memory)


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


def split_lines(paths: Iterable[Path], groups: int, folder: Path) -> tuple[list[Path], set[tuple[int, int]]]:
    """Write each non-blank line of the files to its group's file in ``folder``. Returns the group
    files, by group (lines keep their input order within a group), and the (file index, line
    number) of the lines that had no newline (a file's last line), which the record adds."""
    names = [folder / f"group-{g}.lines" for g in range(groups)]
    files = [name.open("wb", buffering=WRITE_BUFFER) for name in names]
    unterminated: set[tuple[int, int]] = set()
    try:
        writes = [fh.write for fh in files]
        for index, path in enumerate(paths):
            with path.open("rb") as src:
                last = _split_file(src, index, groups, writes)
            if last is not None:
                unterminated.add((index, last[0]))
                writes[last[1]](b"\n")
    finally:
        for fh in files:
            fh.close()
    return names, unterminated


def _split_file(
    src: IO[bytes], index: int, groups: int, writes: Sequence[Callable[[bytes], int]]
) -> tuple[int, int] | None:
    """One file's lines to their groups' files; the last line's number and group when it has no newline."""
    crc32 = zlib.crc32
    number, g, line = 0, 0, b"\n"
    for number, line in enumerate(src, 1):
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
        writes[g](b"%d %d %b" % (index, number, line))
    return None if line.endswith(b"\n") or not line.strip() else (number, g)
