"""The public CDNOW data (a CD retailer's customers who first bought in Jan–Mar 1997, with their
orders to June 1998) as churnwatch order events, for ``make evaluate``.

Two files ship inside the ``lifetimes`` package on PyPI (installed by the ``evaluate`` extra);
they are read as data files, lifetimes itself is never imported:

- ``CDNOW_sample.txt``: 2,357 customers, each line ``customer_id  sample_index  YYYYMMDD  cds
  dollars``; the first column is the customer's id in the master file;
- ``CDNOW_master.txt``: all 23,570 customers of the cohort, a header line, then ``customer_id
  YYYYMMDD  cds  dollars``.

Rows of one customer on one day become one order (their amounts summed), as purchase models
count repeat *days*; both files go through the same conversion.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Row = tuple[str, int, float]  # YYYYMMDD, cds, dollars


def _dataset(name: str) -> Path:
    """Where the installed lifetimes package keeps a data file (found without importing it)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the CDNOW data comes with the 'lifetimes' package: pip install 'churnwatch[evaluate]' (make evaluate does)"
        )
    path = Path(spec.origin).parent / "datasets" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed lifetimes package")
    return path


def sample_path() -> Path:
    return _dataset("CDNOW_sample.txt")


def master_path() -> Path:
    return _dataset("CDNOW_master.txt")


def read_rows(path: Path) -> dict[str, list[Row]]:
    """Each customer's lines, in file order, from either file (told apart by the number of
    columns: 5 in the sample, 4 in the master; the master's header line is skipped)."""
    out: dict[str, list[Row]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == "customer_id":
            continue
        if len(fields) == 5:
            customer, _index, day, cds, dollars = fields
        elif len(fields) == 4:
            customer, day, cds, dollars = fields
        else:
            raise ValueError(f"{path}:{number}: expected 4 or 5 columns, got {len(fields)}")
        out.setdefault(customer, []).append((day, int(cds), float(dollars)))
    return out


def outside_sample(master: Path, sample: Path) -> dict[str, list[Row]]:
    """The master file's customers whose id is not in the sample, with their lines.

    Checks first that the sample's first column is the master id: every sample customer must be in
    the master file with exactly the same lines (date, CDs, dollars); anything else raises."""
    everyone, picked = read_rows(master), read_rows(sample)
    for customer, rows in picked.items():
        if sorted(everyone.get(customer, [])) != sorted(rows):
            raise ValueError(f"sample customer {customer!r} has other lines in {master.name} under that id")
    return {c: rows for c, rows in everyone.items() if c not in picked}


def events_from_rows(rows: dict[str, list[Row]]) -> Iterator[dict[str, Any]]:
    """Order events, one per customer and day, customers in the order given, days as first seen."""
    for customer, lines in rows.items():
        days: dict[str, float] = {}
        for day, _cds, dollars in lines:
            days[day] = round(days.get(day, 0.0) + dollars, 2)
        for day, amount in days.items():
            ts = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
            yield {
                "type": "order",
                "event_id": f"cdnow-{customer}-{day}",
                "customer_id": customer,
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "order_id": f"{customer}-{day}",
                "amount": amount,
                "currency": "USD",
            }


def cdnow_events(path: Path, exclude: Collection[str] = ()) -> Iterator[dict[str, Any]]:
    """Order events of a CDNOW file (sample or master), one per customer and day."""
    rows = read_rows(path)
    yield from events_from_rows({c: r for c, r in rows.items() if c not in exclude})
